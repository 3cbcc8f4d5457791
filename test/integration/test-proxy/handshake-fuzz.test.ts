import { SocksClient } from 'socks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRequest, encodeUserPassRequest } from '../../../src/socks5/protocol.js';
import { closeLingerMs } from '../../../src/socks5/server-handshake.js';
import { createTestProxy, type TestProxy } from '../../../src/test-proxy/proxy.js';
import { fuzz, mutateBytesMany } from '../../helpers/fuzz.js';
import { openSockets, play, pool, splitPlan, type HostileCase } from '../../helpers/hostile-client.js';
import { authBytes, connectDomainBytes, greetingBytes, rawConnect, until } from '../../helpers/socks-raw.js';
import { startEchoServer, type Target } from '../../helpers/socks-targets.js';

/**
 * Bad input at the server: truncated, oversized and random handshakes. The proxy must never crash,
 * must answer or close every connection within its handshake timeout, and must keep serving good
 * clients during the storm.
 */
describe('handshake fuzz against the test proxy', () => {
  const handshakeTimeoutMs = 400;
  let proxy: TestProxy;
  let echo: Target;
  let seed = 0xbad5eed;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const randomBytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));

  beforeAll(async () => {
    echo = await startEchoServer();
    proxy = await createTestProxy({ handshakeTimeoutMs, customerDns: { 'echo.internal.example.com': `127.0.0.1:${echo.port}` } });
  });
  afterAll(async () => {
    await proxy?.stop();
    await echo?.stop();
  });

  const longName = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}`;
  const valid = Buffer.concat([greetingBytes([0x02]), authBytes('proxy-user', 'proxy-pass'), connectDomainBytes('echo.internal.example.com', 7)]);
  /** Each payload is sent whole; the server must then answer or close. */
  const payloads: [string, () => Buffer][] = [
    ['truncated valid handshake', () => valid.subarray(0, Math.floor(rand() * valid.length))],
    ['255-byte wrong user and password', () => Buffer.concat([greetingBytes([0x02]), encodeUserPassRequest({ username: 'u'.repeat(255), password: 'p'.repeat(255) })])],
    ['255-byte name not in the view', () => Buffer.concat([greetingBytes([0x02]), authBytes('proxy-user', 'proxy-pass'), connectDomainBytes(longName, 443)])],
    ['255 methods', () => greetingBytes(Array.from({ length: 255 }, (_, i) => i))],
    ['random bytes', () => randomBytes(1 + Math.floor(rand() * 700))],
    ['random after a valid greeting', () => Buffer.concat([greetingBytes([0x02]), randomBytes(1 + Math.floor(rand() * 600))])],
    ['random after auth', () => Buffer.concat([greetingBytes([0x02]), authBytes('proxy-user', 'proxy-pass'), randomBytes(1 + Math.floor(rand() * 300))])],
    ['unknown command', () => Buffer.concat([greetingBytes([0x02]), authBytes('proxy-user', 'proxy-pass'), encodeRequest({ command: 0x09, address: { atyp: 'ipv4', host: '198.18.0.1', port: 1 } })])],
    ['nothing at all', () => Buffer.alloc(0)],
  ];

  it('answers or closes every bad handshake within its timeout while good clients keep working', async () => {
    const badCount = 270;
    const storm = Array.from({ length: badCount }, async (_, i) => {
      const [kind, make] = payloads[i % payloads.length]!;
      const c = await rawConnect(proxy.port);
      const t0 = Date.now();
      const bytes = make();
      if (bytes.length > 0) c.send(bytes);
      // Generous bound: the timeout plus scheduling slack for hundreds of sockets on a busy machine.
      const end = await c.ended(handshakeTimeoutMs + 2500);
      c.close();
      return { kind, end, ms: Date.now() - t0 };
    });
    const good = Array.from({ length: 30 }, async () => {
      const { socket } = await SocksClient.createConnection({
        proxy: { host: '127.0.0.1', port: proxy.port, type: 5, userId: 'proxy-user', password: 'proxy-pass' },
        command: 'connect',
        destination: { host: 'echo.internal.example.com', port: 7 },
        timeout: 5000,
      });
      const echoed = await new Promise<string>((resolve, reject) => {
        socket.once('data', (d: Buffer) => resolve(d.toString()));
        socket.once('error', reject);
        socket.write('ping');
      });
      socket.destroy();
      return echoed;
    });
    const [bad, goodResults] = await Promise.all([Promise.all(storm), Promise.all(good)]);
    expect(goodResults.every((r) => r === 'ping')).toBe(true);
    const stillOpen = bad.filter((b) => b.end === 'open');
    expect(stillOpen).toEqual([]);
    // The server is still there and still correct afterwards.
    const { socket } = await SocksClient.createConnection({
      proxy: { host: '127.0.0.1', port: proxy.port, type: 5, userId: 'proxy-user', password: 'proxy-pass' },
      command: 'connect',
      destination: { host: 'echo.internal.example.com', port: 7 },
      timeout: 5000,
    });
    socket.destroy();
    const log = proxy.connections.list({ state: 'closed' });
    expect(log.some((e) => e.closeCause === 'handshake-timeout')).toBe(true);
    expect(log.some((e) => e.closeCause === 'protocol-error')).toBe(true);
    expect(log.some((e) => e.host === longName && e.replyCode === 0x04)).toBe(true);
    expect(log.some((e) => e.replyCode === 0x07)).toBe(true);
  });

  it('mutated valid handshakes (auth included) end in bounded time, also for clients that ignore FIN', async () => {
    const slackMs = 2500;
    const f = fuzz('test proxy mutated handshakes', { seed: 0x7e57, iterations: 160, budgetMs: 20_000 });
    const cases: HostileCase[] = [];
    await f.loop(() => {
      const bytes = mutateBytesMany(f, valid);
      const halfClose = f.chance(0.4);
      cases.push({ kind: 'mutated', bytes, pieces: splitPlan(f, bytes.length), halfClose, ignoreFin: !halfClose && f.chance(0.6) });
    });
    const baseline = openSockets();
    // A mutation that is still a valid handshake opens a tunnel to the echo server: open by design.
    const tunnel = (received: Buffer) => received.includes(Buffer.from([0x05, 0x00, 0x00, 0x01]));
    const results = await pool(cases, 24, async (c) => ({ c, ex: await play(proxy.port, c, handshakeTimeoutMs + closeLingerMs + slackMs, tunnel) }));
    for (const [i, { c, ex }] of results.entries()) {
      if (tunnel(ex.received)) continue;
      const where = `${f.where()} case ${i} (${c.halfClose ? 'half-close' : c.ignoreFin ? 'ignores FIN' : 'stays open'}): ${c.bytes.toString('hex')} got ${ex.received.toString('hex')}`;
      expect(ex.end, where).not.toBe('open');
      expect(ex.ms, where).toBeLessThan(handshakeTimeoutMs + closeLingerMs + slackMs);
    }
    // Every client is gone now; so is every socket the proxy (and the echo server behind it) held for them.
    const left = await until(() => (openSockets() <= baseline ? 0 : undefined), closeLingerMs + slackMs).catch(() => openSockets() - baseline);
    expect(left, 'sockets left open').toBe(0);
  });

  it('a slow-loris client that sends a byte at a time is cut off at the handshake timeout', async () => {
    const c = await rawConnect(proxy.port);
    const t0 = Date.now();
    let sent = 0;
    const drip = setInterval(() => {
      if (sent < valid.length - 1) c.send([valid[sent++]!]);
    }, 50);
    const end = await c.ended(handshakeTimeoutMs + 2000);
    clearInterval(drip);
    expect(end).not.toBe('open');
    expect(Date.now() - t0).toBeLessThan(handshakeTimeoutMs + 2000);
  });
});
