import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import { SocksClient } from 'socks';
import { tlsClientHello } from '../../src/gateway/probe-payloads.js';
import { fixtureCaCertPath } from '../../src/test-proxy/customer-services.js';

/** What a program inside an explicit-mode sandbox does: CONNECT through the sandbox's SOCKS5 ingress. */
export async function viaIngress(ingress: string, host: string, port: number): Promise<Socket> {
  const [ih, ip] = [ingress.slice(0, ingress.lastIndexOf(':')), Number(ingress.slice(ingress.lastIndexOf(':') + 1))];
  const { socket } = await SocksClient.createConnection({ proxy: { host: ih, port: ip, type: 5 }, command: 'connect', destination: { host, port }, timeout: 10_000 });
  return socket;
}

export interface HttpAnswer {
  status: number;
  body: string;
}

/** An HTTP/1.1 GET over TLS on an existing socket, trusting the fixture CA. */
export function httpsGet(socket: Socket, servername: string, path = '/'): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const t = tls.connect({ socket, servername, ca: readFileSync(fixtureCaCertPath) });
    let data = '';
    t.on('secureConnect', () => t.write(`GET ${path} HTTP/1.1\r\nHost: ${servername}\r\nConnection: close\r\n\r\n`));
    t.on('data', (d) => (data += d.toString()));
    t.on('error', reject);
    t.on('close', () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      if (!m) return reject(new Error(`no HTTP answer; got ${JSON.stringify(data.slice(0, 200))}`));
      resolve({ status: Number(m[1]), body: data.slice(data.indexOf('\r\n\r\n') + 4) });
    });
  });
}

/** A plain HTTP/1.1 GET on an existing socket. */
export function httpGet(socket: Socket, host: string, path = '/'): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    let data = '';
    socket.on('data', (d) => (data += d.toString()));
    socket.on('error', reject);
    socket.on('close', () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      if (!m) return reject(new Error(`no HTTP answer; got ${JSON.stringify(data.slice(0, 200))}`));
      resolve({ status: Number(m[1]), body: data.slice(data.indexOf('\r\n\r\n') + 4) });
    });
    socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  });
}

/** Sends `bytes` and collects what comes back until the peer closes: accept-then-close gives zero bytes. */
export function sendAndCollect(socket: Socket, bytes: Buffer | string): Promise<{ received: Buffer; error?: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error: string | undefined;
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    socket.on('close', () => resolve({ received: Buffer.concat(chunks), error }));
    socket.write(bytes);
  });
}

/** A TLS ClientHello for `servername` (Node's own TLS client over an in-memory stream, no network). */
export const clientHello = (servername: string): Promise<Buffer> => tlsClientHello(servername);
