import dgram from 'node:dgram';
import net from 'node:net';
import type { DatagramInput } from '../gateway/udp.js';
import { addressFor } from '../socks5/protocol.js';
import { encodeUdpDatagram, parseUdpDatagram } from '../socks5/udp-datagram.js';

/**
 * One SOCKS5 UDP ASSOCIATE of the explicit ingress: a loopback UDP relay port whose datagrams (with
 * the RFC 1928 UDP header) become sandbox datagrams for the gateway. It lives as long as the control
 * connection. Datagrams that do not parse, are fragmented, or name an unresolvable host are dropped.
 */
export async function startUdpAssociation(o: {
  sandboxId: string;
  control: net.Socket;
  /** A promise when the answer must be waited for (platform DNS passthrough). */
  resolve: (host: string) => string | undefined | Promise<string | undefined>;
  onDatagram: (input: DatagramInput) => void;
  onUnresolvable: (host: string, port: number) => void;
}): Promise<{ host: string; port: number }> {
  const socket = dgram.createSocket('udp4');
  socket.on('error', () => socket.close());
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  const clientIp = o.control.remoteAddress?.replace(/^::ffff:/, '');
  socket.on('message', (msg, rinfo) => {
    if (clientIp && rinfo.address !== clientIp) return; // only the associated client may use the relay
    let parsed;
    try {
      parsed = parseUdpDatagram(msg);
    } catch {
      return;
    }
    if (parsed.frag !== 0) return;
    const datagram = parsed;
    const deliver = (ip: string | undefined) => {
      if (!ip) {
        o.onUnresolvable(datagram.address.host, datagram.address.port);
        return;
      }
      o.onDatagram({
        sandboxId: o.sandboxId,
        source: `${rinfo.address}:${rinfo.port}`,
        originalDst: { ip, port: datagram.address.port },
        payload: datagram.data,
        reply: (data, from) => socket.send(encodeUdpDatagram(addressFor(from.ip, from.port), data), rinfo.port, rinfo.address),
      });
    };
    const ip = net.isIP(parsed.address.host) ? parsed.address.host : o.resolve(parsed.address.host);
    if (ip instanceof Promise) ip.then(deliver, () => deliver(undefined));
    else deliver(ip);
  });
  const close = () => {
    try {
      socket.close();
    } catch {
      // already closed
    }
  };
  o.control.once('close', close);
  // The association ends with the control connection (RFC 1928 §6). A client that closes its side has
  // ended it too: without this, a half-open control connection would keep the relay bound forever.
  o.control.once('end', () => o.control.destroy());
  // The control connection carries nothing more; keep reading so its end is seen.
  o.control.resume();
  const a = socket.address();
  return { host: a.address, port: a.port };
}
