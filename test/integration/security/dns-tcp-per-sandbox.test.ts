import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SandboxResolver } from '../../../src/dns/resolver-server.js';
import { silentLogger } from '../../../src/log.js';

/**
 * The transparent sandbox resolver's TCP side is shared by every sandbox (finding 3): one sandbox
 * holding connections must not lock the others out. Two sandboxes are told apart by their loopback
 * source addresses (127.0.0.1 and 127.0.0.2), as the resolver tells sandboxes apart by address.
 */
const sandboxOf: Record<string, string> = { '127.0.0.1': 'sb-1', '127.0.0.2': 'sb-2' };
const lookup = (_sandboxId: string, name: string): string[] | undefined => (name === 'api.internal.example.com' ? ['198.18.0.10'] : undefined);
const framedQuery = (): Buffer => {
  const q = dnsPacket.encode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'api.internal.example.com', class: 'IN' }] });
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(q.length);
  return Buffer.concat([prefix, q]);
};

/** A connection from `localAddress`; resolves 'answered' (it stays open) or 'closed'. */
async function connectAndAsk(port: number, localAddress: string, sockets: net.Socket[]): Promise<'answered' | 'closed'> {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress });
  sockets.push(socket);
  socket.on('error', () => {});
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('closed'), 5000);
    socket.once('data', () => {
      clearTimeout(timer);
      resolve('answered');
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve('closed');
    });
    socket.once('connect', () => socket.write(framedQuery()));
  });
}

describe('sandbox resolver: TCP connection caps per sandbox (finding 3)', () => {
  let udp: dgram.Socket;
  let tcp: net.Server;
  let resolver: SandboxResolver;
  let port = 0;
  const sockets: net.Socket[] = [];

  const start = async (options: { maxTcpConnections: number; maxTcpConnectionsPerSandbox: number; tcpIdleTimeoutMs: number }) => {
    udp = dgram.createSocket('udp4');
    tcp = net.createServer();
    udp.bind(0, '127.0.0.1');
    tcp.listen(0, '127.0.0.1');
    await Promise.all([once(udp, 'listening'), once(tcp, 'listening')]);
    port = (tcp.address() as net.AddressInfo).port;
    resolver = new SandboxResolver({ lookup, sandboxForAddress: (ip) => sandboxOf[ip], logger: silentLogger(), ...options });
    resolver.attachUdp(udp);
    resolver.attachTcp(tcp);
  };
  beforeEach(() => {
    sockets.length = 0;
  });
  afterEach(async () => {
    for (const s of sockets) s.destroy();
    await resolver?.close();
  });

  it('a sandbox holding every connection it may does not lock another sandbox out', async () => {
    await start({ maxTcpConnections: 8, maxTcpConnectionsPerSandbox: 4, tcpIdleTimeoutMs: 10_000 });
    const first: string[] = [];
    for (let i = 0; i < 8; i++) first.push(await connectAndAsk(port, '127.0.0.1', sockets));
    expect(first.filter((r) => r === 'answered')).toHaveLength(4);
    expect(first.filter((r) => r === 'closed')).toHaveLength(4);
    expect(await connectAndAsk(port, '127.0.0.2', sockets)).toBe('answered');
  });

  it('idle connections are closed after the idle timeout, which gives the sandbox its slots back', async () => {
    await start({ maxTcpConnections: 8, maxTcpConnectionsPerSandbox: 2, tcpIdleTimeoutMs: 300 });
    const held = [await connectAndAsk(port, '127.0.0.1', sockets), await connectAndAsk(port, '127.0.0.1', sockets)];
    expect(held).toEqual(['answered', 'answered']);
    expect(await connectAndAsk(port, '127.0.0.1', sockets)).toBe('closed');
    await Promise.all(sockets.slice(0, 2).map((s) => (s.closed ? undefined : once(s, 'close'))));
    expect(await connectAndAsk(port, '127.0.0.1', sockets)).toBe('answered');
  });
});
