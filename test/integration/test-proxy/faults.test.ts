import { SocksClient } from 'socks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Socks5Reply, encodeRequest, Socks5Command } from '../../../src/socks5/protocol.js';
import { createTestProxy, type TestProxy } from '../../../src/test-proxy/proxy.js';
import { authBytes, connectDomainBytes, greetingBytes, rawConnect, until, type RawClient } from '../../helpers/socks-raw.js';
import { startEchoServer, startHttpBlobServer, type Target } from '../../helpers/socks-targets.js';

/** Each fault, observed from the client side. */
describe('test proxy faults', () => {
  let proxy: TestProxy;
  let echo: Target;
  let echo6: Target;
  let blob: Target;
  const blobBytes = 100_000;
  const clients: RawClient[] = [];

  beforeAll(async () => {
    echo = await startEchoServer();
    echo6 = await startEchoServer('::1');
    blob = await startHttpBlobServer(blobBytes);
    proxy = await createTestProxy({
      users: [
        { username: 'proxy-user', password: 'proxy-pass' },
        { username: 'other', password: 'other-pass' },
      ],
      customerDns: { 'echo.internal.example.com': `127.0.0.1:${echo.port}`, 'blob.internal.example.com': `127.0.0.1:${blob.port}` },
      directIps: 'loopback',
    });
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
    proxy.faults.clear();
    proxy.connections.clear();
  });
  afterAll(async () => {
    await proxy?.stop();
    await Promise.all([echo?.stop(), echo6?.stop(), blob?.stop()]);
  });

  const open = async (): Promise<RawClient> => {
    const c = await rawConnect(proxy.port);
    clients.push(c);
    return c;
  };
  /** Greeting + auth as `user`; resolves with the client, 4 bytes (method selection + auth status) read. */
  const authed = async (user = 'proxy-user', pass = 'proxy-pass'): Promise<RawClient> => {
    const c = await open();
    c.send(greetingBytes([0x00, 0x02]));
    await c.readBytes(2);
    c.send(authBytes(user, pass));
    const got = await c.readBytes(4);
    expect([...got.subarray(0, 4)]).toEqual([0x05, 0x02, 0x01, 0x00]);
    return c;
  };
  const replyTo = async (c: RawClient, request: Buffer): Promise<Buffer> => {
    c.send(request);
    return (await c.readBytes(4 + 10)).subarray(4, 14);
  };
  const ipv4Request = (port: number): Buffer => encodeRequest({ command: Socks5Command.Connect, address: { atyp: 'ipv4', host: '127.0.0.1', port } });
  const ipv6Request = (port: number): Buffer => encodeRequest({ command: Socks5Command.Connect, address: { atyp: 'ipv6', host: '::1', port } });

  it('auth_reject: valid credentials get RFC 1929 status 0x01 and the connection closes', async () => {
    proxy.faults.add({ type: 'auth_reject' });
    const c = await open();
    c.send(greetingBytes([0x02]));
    await c.readBytes(2);
    c.send(authBytes('proxy-user', 'proxy-pass'));
    expect([...(await c.readBytes(4))]).toEqual([0x05, 0x02, 0x01, 0x01]);
    expect(await c.ended()).toBe('fin');
    expect(proxy.connections.list()[0]).toMatchObject({ auth: 'rejected', faults: ['auth_reject'] });
  });

  it('auth_reject with match.user only hits that user', async () => {
    proxy.faults.add({ type: 'auth_reject', match: { user: 'other' } });
    await authed('proxy-user', 'proxy-pass');
    const c = await open();
    c.send(greetingBytes([0x02]));
    await c.readBytes(2);
    c.send(authBytes('other', 'other-pass'));
    expect([...(await c.readBytes(4)).subarray(2)]).toEqual([0x01, 0x01]);
  });

  it('no_acceptable_method: the greeting is answered 05 ff, then FIN', async () => {
    proxy.faults.add({ type: 'no_acceptable_method' });
    const c = await open();
    c.send(greetingBytes([0x00, 0x02]));
    expect([...(await c.readBytes(2))]).toEqual([0x05, 0xff]);
    expect(await c.ended()).toBe('fin');
  });

  it('reply_code: every failure code 0x01-0x08 comes back as a full 10-byte reply', async () => {
    for (let code = Socks5Reply.GeneralFailure; code <= Socks5Reply.AddressTypeNotSupported; code++) {
      proxy.faults.clear();
      proxy.faults.add({ type: 'reply_code', attributes: { code } });
      const c = await authed();
      const reply = await replyTo(c, connectDomainBytes('echo.internal.example.com', 7));
      expect([...reply]).toEqual([0x05, code, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
      expect(await c.ended()).toBe('fin');
    }
  });

  it('reject_domain_atyp: 0x08 for a hostname, while an IPv4 CONNECT still works', async () => {
    proxy.faults.add({ type: 'reject_domain_atyp' });
    const byName = await authed();
    expect((await replyTo(byName, connectDomainBytes('echo.internal.example.com', 7)))[1]).toBe(Socks5Reply.AddressTypeNotSupported);
    const byIp = await authed();
    expect((await replyTo(byIp, ipv4Request(echo.port)))[1]).toBe(Socks5Reply.Succeeded);
  });

  it('reject_ipv6: 0x08 for an IPv6 address, which works without the fault', async () => {
    const before = await authed();
    expect((await replyTo(before, ipv6Request(echo6.port)))[1]).toBe(Socks5Reply.Succeeded);
    proxy.faults.add({ type: 'reject_ipv6' });
    const after = await authed();
    const c = after;
    c.send(ipv6Request(echo6.port));
    const reply = (await c.readBytes(4 + 10)).subarray(4);
    expect(reply[1]).toBe(Socks5Reply.AddressTypeNotSupported);
  });

  it('handshake_delay: the method selection arrives after the latency', async () => {
    proxy.faults.add({ type: 'handshake_delay', attributes: { latencyMs: 300 } });
    const c = await open();
    const t0 = Date.now();
    c.send(greetingBytes([0x02]));
    await c.readBytes(2);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
  });

  it('connect_delay: the CONNECT reply arrives after the latency', async () => {
    proxy.faults.add({ type: 'connect_delay', attributes: { latencyMs: 300 } });
    const c = await authed();
    const t0 = Date.now();
    const reply = await replyTo(c, connectDomainBytes('echo.internal.example.com', 7));
    expect(reply[1]).toBe(Socks5Reply.Succeeded);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
  });

  it('bandwidth: a 100 KB download at 200 KB/s takes at least ~0.5 s', async () => {
    proxy.faults.add({ type: 'bandwidth', attributes: { rate: 200 } });
    const c = await authed();
    await replyTo(c, connectDomainBytes('blob.internal.example.com', 80));
    const t0 = Date.now();
    c.send(Buffer.from('GET / HTTP/1.1\r\nhost: blob\r\n\r\n'));
    expect(await c.ended(10_000)).toBe('fin');
    expect(c.received().length).toBeGreaterThan(14 + blobBytes);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
    expect(proxy.connections.list()[0]!.faults).toEqual(['bandwidth']);
  });

  it('reset_after_bytes: exactly N bytes arrive, then an RST', async () => {
    proxy.faults.add({ type: 'reset_after_bytes', attributes: { bytes: 1000, direction: 'down' } });
    const c = await authed();
    await replyTo(c, connectDomainBytes('blob.internal.example.com', 80));
    c.send(Buffer.from('GET / HTTP/1.1\r\nhost: blob\r\n\r\n'));
    expect(await c.ended()).toBe('reset');
    expect(c.received().length).toBe(14 + 1000);
    const entry = await until(() => proxy.connections.list({ state: 'closed' })[0]);
    expect(entry).toMatchObject({ bytesDown: 1000, closeCause: 'fault' });
  });

  it('silent_close: closes without a reply at the chosen stage', async () => {
    proxy.faults.add({ name: 'quiet-request', type: 'silent_close' });
    const c = await authed();
    c.send(connectDomainBytes('echo.internal.example.com', 7));
    expect(await c.ended()).toBe('fin');
    expect(c.received().length).toBe(4);

    proxy.faults.clear();
    proxy.faults.add({ type: 'silent_close', attributes: { stage: 'greeting' } });
    const g = await open();
    g.send(greetingBytes([0x02]));
    expect(await g.ended()).toBe('fin');
    expect(g.received().length).toBe(0);
  });

  it('fragmented_replies: every reply byte arrives in its own read, and a real client copes', async () => {
    proxy.faults.add({ type: 'fragmented_replies', attributes: { gapMs: 5 } });
    const c = await open();
    c.send(greetingBytes([0x02]));
    await c.readBytes(2);
    c.send(authBytes('proxy-user', 'proxy-pass'));
    await c.readBytes(4);
    c.send(connectDomainBytes('echo.internal.example.com', 7));
    await c.readBytes(14);
    // 2 + 2 + 10 bytes, one per write with a gap: far more reads than the 3 a whole-reply proxy gives.
    expect(c.chunks.length).toBeGreaterThanOrEqual(12);
    const { socket } = await SocksClient.createConnection({
      proxy: { host: '127.0.0.1', port: proxy.port, type: 5, userId: 'proxy-user', password: 'proxy-pass' },
      command: 'connect',
      destination: { host: 'echo.internal.example.com', port: 7 },
      timeout: 5000,
    });
    socket.destroy();
  });

  it('toxicity 0 never fires; match.host and match.port select the requests', async () => {
    proxy.faults.add({ name: 'never', type: 'reply_code', toxicity: 0, attributes: { code: 2 } });
    proxy.faults.add({ name: 'blob-only', type: 'reply_code', attributes: { code: 5 }, match: { host: '*.internal.example.com', port: 80 } });
    const a = await authed();
    expect((await replyTo(a, connectDomainBytes('echo.internal.example.com', 7)))[1]).toBe(Socks5Reply.Succeeded);
    const b = await authed();
    expect((await replyTo(b, connectDomainBytes('blob.internal.example.com', 80)))[1]).toBe(Socks5Reply.ConnectionRefused);
    expect(proxy.connections.list({ replyCode: 5 })[0]!.faults).toEqual(['blob-only']);
  });

  it('rejects malformed fault definitions with a clear message', () => {
    expect(() => proxy.faults.add({ type: 'nope' })).toThrow(/unknown fault type "nope"/);
    expect(() => proxy.faults.add({ type: 'reply_code', attributes: { code: 0 } })).toThrow(/attributes.code: code must be a failure reply code/);
    expect(() => proxy.faults.add({ type: 'bandwidth', toxicity: 2, attributes: { rate: 1 } })).toThrow(/toxicity/);
    proxy.faults.add({ name: 'x', type: 'auth_reject' });
    expect(() => proxy.faults.add({ name: 'x', type: 'auth_reject' })).toThrow(/already exists/);
  });
});
