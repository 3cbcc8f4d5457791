import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';

/** A real TLS ClientHello for `servername`, produced by Node's TLS client over an in-memory stream. */
export function tlsClientHello(servername: string | undefined, alpn: string[] = ['h2', 'http/1.1']): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let client: tls.TLSSocket | undefined;
    const timer = setTimeout(() => reject(new Error('no ClientHello produced')), 5_000);
    const duplex = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        clearTimeout(timer);
        resolve(Buffer.from(chunk));
        cb();
        setImmediate(() => client?.destroy());
      },
    });
    client = tls.connect({ socket: duplex as unknown as Socket, ...(servername ? { servername } : {}), ALPNProtocols: alpn });
    client.on('error', () => {});
  });
}

export function httpGet(host: string, path = '/'): Buffer {
  return Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: sandbox-egress-emulator-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n`);
}
