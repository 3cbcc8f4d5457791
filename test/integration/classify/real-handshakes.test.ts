/**
 * Classification of handshakes produced at test time by real clients (Node's tls, openssl s_client,
 * curl) connecting to a loopback capture listener, checked against read-tls-client-hello as an
 * oracle. With UPDATE_HANDSHAKE_FIXTURES=1 the captures are saved to fixtures/handshakes/.
 */
import { writeFileSync } from 'node:fs';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { execa, type ResultPromise } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startCaptureServer, type Capture, type CaptureServer } from './capture-server.js';
import { oracleHello } from './oracle.js';

let server: CaptureServer;
const children: ResultPromise[] = [];
const tlsClients: TLSSocket[] = [];
/** Captures with what the client was told to send (servername, ALPN), for fixtures/handshakes. */
const saved: { client: string; serverName?: string; alpn?: string[]; hex: string }[] = [];

beforeAll(async () => {
  server = await startCaptureServer({ firstReadTimeoutMs: 10_000, readTimeoutMs: 10_000 });
});
afterEach(async () => {
  for (const c of tlsClients.splice(0)) c.destroy();
  for (const child of children.splice(0)) {
    if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    await child; // reject: false — resolves once the process is gone
  }
});
afterAll(async () => {
  await server.close();
  if (process.env.UPDATE_HANDSHAKE_FIXTURES === '1') {
    writeFileSync(new URL('../../../fixtures/handshakes/captured-client-hellos.json', import.meta.url), `${JSON.stringify(saved, null, 2)}\n`);
  }
});

function spawn(file: string, args: string[]): void {
  const child = execa(file, args, { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore', reject: false, timeout: 20_000 });
  children.push(child);
}

function nodeTls(options: { servername?: string; ALPNProtocols?: string[] }): void {
  const socket = tlsConnect({ host: '127.0.0.1', port: server.port, rejectUnauthorized: false, ...options });
  socket.on('error', () => {});
  tlsClients.push(socket);
}

async function expectTls(capture: Capture, client: string, host: string, alpn?: string[]): Promise<void> {
  expect(capture.result).toEqual({ kind: 'known', appProtocol: 'tls', host, ...(alpn ? { alpn } : {}) });
  const oracle = await oracleHello(capture.peeked);
  expect(oracle.serverName?.toLowerCase()).toBe(host);
  expect(oracle.alpn).toEqual(capture.result.kind === 'known' ? capture.result.alpn : undefined);
  saved.push({ client, serverName: host, ...(alpn ? { alpn } : {}), hex: capture.peeked.toString('hex') });
}

describe('real TLS clients', () => {
  it("Node's tls.connect with servername and ALPN", async () => {
    nodeTls({ servername: 'api.internal.example.com', ALPNProtocols: ['h2', 'http/1.1'] });
    await expectTls(await server.next(), 'node tls.connect', 'api.internal.example.com', ['h2', 'http/1.1']);
  });

  it("Node's tls.connect with an upper-case servername is lowercased", async () => {
    nodeTls({ servername: 'Mixed.Case.Example.COM' });
    const capture = await server.next();
    expect(capture.result).toEqual({ kind: 'known', appProtocol: 'tls', host: 'mixed.case.example.com' });
    expect((await oracleHello(capture.peeked)).serverName).toBe('Mixed.Case.Example.COM');
  });

  it("Node's tls.connect to an IP without servername sends no SNI: missing_sni", async () => {
    nodeTls({});
    const capture = await server.next();
    expect(capture.result).toEqual({ kind: 'unknown', reason: 'missing_sni' });
    expect((await oracleHello(capture.peeked)).serverName).toBeUndefined();
    saved.push({ client: 'node tls.connect without SNI', hex: capture.peeked.toString('hex') });
  });

  it('openssl s_client -servername', async () => {
    spawn('openssl', ['s_client', '-connect', `127.0.0.1:${server.port}`, '-servername', 'x.example.com', '-alpn', 'h2,http/1.1']);
    await expectTls(await server.next(), 'openssl s_client', 'x.example.com', ['h2', 'http/1.1']);
  });

  it('openssl s_client -noservername: missing_sni', async () => {
    spawn('openssl', ['s_client', '-connect', `127.0.0.1:${server.port}`, '-noservername']);
    const capture = await server.next();
    expect(capture.result).toEqual({ kind: 'unknown', reason: 'missing_sni' });
    expect((await oracleHello(capture.peeked)).serverName).toBeUndefined();
  });

  it('openssl s_client -tls1_2', async () => {
    spawn('openssl', ['s_client', '-connect', `127.0.0.1:${server.port}`, '-servername', 'legacy.example.com', '-tls1_2']);
    await expectTls(await server.next(), 'openssl s_client -tls1_2', 'legacy.example.com');
  });

  it('curl over https', async () => {
    const port = server.port;
    spawn('curl', ['-sk', '--max-time', '15', '--resolve', `curl.example.com:${port}:127.0.0.1`, `https://curl.example.com:${port}/`]);
    await expectTls(await server.next(), 'curl https', 'curl.example.com', ['h2', 'http/1.1']);
  });
});

describe('real HTTP clients', () => {
  it('curl over plain http', async () => {
    const port = server.port;
    spawn('curl', ['-s', '--max-time', '15', '--resolve', `web.example.com:${port}:127.0.0.1`, `http://web.example.com:${port}/path?q=1`]);
    const capture = await server.next();
    expect(capture.result).toEqual({ kind: 'known', appProtocol: 'http', host: 'web.example.com' });
    expect(capture.peeked.toString('latin1')).toMatch(/^GET \/path\?q=1 HTTP\/1\.1\r\nHost: web\.example\.com:\d+\r\n/);
  });

  it('curl through an HTTP proxy sends an absolute-URI', async () => {
    // The "proxy" is the loopback capture listener: nothing leaves the host.
    spawn('curl', ['-s', '--max-time', '15', '-x', `http://127.0.0.1:${server.port}`, 'http://Abs.Example.com/x']);
    const capture = await server.next();
    expect(capture.peeked.toString('latin1')).toMatch(/^GET http:\/\/abs\.example\.com\/x HTTP\/1\.1\r\n/i);
    expect(capture.result).toEqual({ kind: 'known', appProtocol: 'http', host: 'abs.example.com' });
  });
});
