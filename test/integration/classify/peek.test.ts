import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { clientHelloRecord } from '../../unit/classify/handshake-builders.js';
import { startCaptureServer, type CaptureServer } from './capture-server.js';

let server: CaptureServer | undefined;
const clients: Socket[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await server?.close();
  server = undefined;
});

async function client(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  clients.push(socket);
  await once(socket, 'connect');
  return socket;
}

/** Reads everything the (paused) server socket still holds or receives until the client ends. */
async function drain(socket: Socket): Promise<Buffer> {
  const parts: Buffer[] = [];
  socket.on('data', (d: Buffer) => parts.push(d));
  socket.resume();
  await once(socket, 'end');
  return Buffer.concat(parts);
}

describe('peekAndClassify over loopback sockets', () => {
  it('classifies an HTTP head and leaves the rest of the stream for the gateway', async () => {
    server = await startCaptureServer();
    const c = await client(server.port);
    const head = 'POST /upload HTTP/1.1\r\nHost: Upload.Example.com\r\nContent-Length: 5\r\n\r\n';
    c.write(head);
    const capture = await server.next();
    expect(capture.result).toEqual({ kind: 'known', appProtocol: 'http', host: 'upload.example.com' });
    expect(capture.peeked.toString('latin1')).toBe(head);
    expect(capture.socket.isPaused()).toBe(true);
    c.end('hello');
    expect((await drain(capture.socket)).toString()).toBe('hello');
  });

  it('classifies a ClientHello written in several pieces', async () => {
    server = await startCaptureServer();
    const c = await client(server.port);
    c.setNoDelay(true);
    const hello = clientHelloRecord({ serverName: 'pieces.example.com', alpn: ['h2'] });
    for (const [a, b] of [[0, 3], [3, 60], [60, hello.length]] as const) {
      c.write(hello.subarray(a, b));
      await new Promise((r) => setImmediate(r));
    }
    const capture = await server.next();
    expect(capture.result).toEqual({ kind: 'known', appProtocol: 'tls', host: 'pieces.example.com', alpn: ['h2'] });
    expect(capture.peeked.equals(hello)).toBe(true);
  });

  it('gives client_idle when no byte arrives within the first-read timeout', async () => {
    server = await startCaptureServer({ firstReadTimeoutMs: 40 });
    await client(server.port);
    const capture = await server.next();
    expect(capture.result).toEqual({ kind: 'unknown', reason: 'client_idle' });
    expect(capture.peeked.length).toBe(0);
  });

  it('gives classification_timeout when a later read times out', async () => {
    server = await startCaptureServer({ firstReadTimeoutMs: 5_000, readTimeoutMs: 40 });
    const c = await client(server.port);
    c.write('GET / HTTP/1.1\r\nHost: slow.example.com\r\n');
    const capture = await server.next();
    expect(capture.result).toEqual({ kind: 'unknown', reason: 'classification_timeout' });
    expect(capture.peeked.toString()).toBe('GET / HTTP/1.1\r\nHost: slow.example.com\r\n');
  });

  it('gives read_failed when the client closes before sending a byte', async () => {
    server = await startCaptureServer({ firstReadTimeoutMs: 5_000, readTimeoutMs: 5_000 });
    const c = await client(server.port);
    c.end();
    const capture = await server.next();
    expect(capture.result).toEqual({ kind: 'unknown', reason: 'read_failed' });
    expect(capture.peeked.length).toBe(0);
  });

  // Upstream classifier.go:176-177 (@b1f245c2): read_failed needs an empty buffer; with bytes, the read
  // error only completes them and the classifiers decide (a prefix that never completes: unclassified).
  it('classifies the bytes as complete when the client closes before they classify (EOF): unclassified', async () => {
    server = await startCaptureServer({ firstReadTimeoutMs: 5_000, readTimeoutMs: 5_000 });
    const c = await client(server.port);
    c.end('GET / HTTP/1.1\r\n');
    const capture = await server.next();
    expect(capture.result).toEqual({ kind: 'unknown', reason: 'unclassified' });
    expect(capture.peeked.toString()).toBe('GET / HTTP/1.1\r\n');
  });

  it('gives unclassified for a partial banner when the connection is reset', async () => {
    server = await startCaptureServer({ firstReadTimeoutMs: 5_000, readTimeoutMs: 5_000 });
    const c = await client(server.port);
    c.write('SSH-2.0-partial');
    await new Promise((r) => setImmediate(r));
    c.resetAndDestroy();
    const capture = await server.next();
    expect(capture.result).toEqual({ kind: 'unknown', reason: 'unclassified' });
  });

  it('gives header_limit_exceeded and keeps memory at the limit, losing no byte', async () => {
    server = await startCaptureServer({ headerLimit: 1024, readTimeoutMs: 5_000 });
    const c = await client(server.port);
    const sent = Buffer.from(`GET / HTTP/1.1\r\n${'X-Pad: 0123456789abcdef0123456789abcdef\r\n'.repeat(200)}\r\n`, 'latin1');
    c.write(sent);
    const capture = await server.next();
    expect(capture.result).toEqual({ kind: 'unknown', reason: 'header_limit_exceeded' });
    expect(capture.peeked.length).toBe(1024);
    c.end();
    const rest = await drain(capture.socket);
    expect(Buffer.concat([capture.peeked, rest]).equals(sent)).toBe(true);
  });

  it('gives unclassified for a client-first binary protocol', async () => {
    server = await startCaptureServer();
    const c = await client(server.port);
    c.write(Buffer.from('0000000804d2162f', 'hex')); // PostgreSQL SSLRequest
    const capture = await server.next();
    expect(capture.result).toEqual({ kind: 'unknown', reason: 'unclassified' });
  });
});
