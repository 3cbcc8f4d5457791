import { createHash, randomBytes } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import { SocksClient } from 'socks';
import { afterEach, describe, expect, it } from 'vitest';
import { Socks5Reply } from '../../../src/socks5/protocol.js';
import { createTestProxy, type TestProxy } from '../../../src/test-proxy/proxy.js';
import { authBytes, connectDomainBytes, greetingBytes, rawConnect, until, type RawClient } from '../../helpers/socks-raw.js';
import { startEchoServer, type Target } from '../../helpers/socks-targets.js';

describe('test proxy lifecycle', () => {
  const stops: (() => Promise<unknown>)[] = [];
  const clients: RawClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const s of stops.splice(0).reverse()) await s();
  });
  const setup = async (options: Parameters<typeof createTestProxy>[0] = {}): Promise<{ proxy: TestProxy; echo: Target }> => {
    const echo = await startEchoServer();
    stops.push(() => echo.stop());
    const proxy = await createTestProxy({ customerDns: { 'echo.internal.example.com': `127.0.0.1:${echo.port}` }, ...options });
    stops.push(() => proxy.stop());
    return { proxy, echo };
  };
  const tunnel = async (proxy: TestProxy): Promise<RawClient> => {
    const c = await rawConnect(proxy.port);
    clients.push(c);
    c.send(greetingBytes([0x02]));
    await c.readBytes(2);
    c.send(authBytes('proxy-user', 'proxy-pass'));
    await c.readBytes(4);
    c.send(connectDomainBytes('echo.internal.example.com', 7));
    const r = await c.readBytes(14);
    expect(r[5]).toBe(Socks5Reply.Succeeded);
    return c;
  };

  it("auth 'none' accepts method 0x00 and logs no user", async () => {
    const { proxy } = await setup({ auth: 'none' });
    const c = await rawConnect(proxy.port);
    clients.push(c);
    c.send(greetingBytes([0x00, 0x02]));
    expect([...(await c.readBytes(2))]).toEqual([0x05, 0x00]);
    c.send(connectDomainBytes('echo.internal.example.com', 7));
    expect((await c.readBytes(12))[3]).toBe(Socks5Reply.Succeeded);
    expect(proxy.connections.list()[0]).toMatchObject({ method: 'none', atyp: 'domain' });
    expect(proxy.connections.list()[0]!.user).toBeUndefined();
  });

  it("auth 'required' refuses a client that only offers no-auth (05 ff)", async () => {
    const { proxy } = await setup();
    const c = await rawConnect(proxy.port);
    clients.push(c);
    c.send(greetingBytes([0x00]));
    expect([...(await c.readBytes(2))]).toEqual([0x05, 0xff]);
    expect(await c.ended()).toBe('fin');
  });

  it('bytes sent before the reply are relayed, counted, and a half-close is passed on', async () => {
    const { proxy } = await setup();
    const c = await rawConnect(proxy.port);
    clients.push(c);
    // Optimistic client: everything at once, data included.
    c.send(Buffer.concat([greetingBytes([0x02]), authBytes('proxy-user', 'proxy-pass'), connectDomainBytes('echo.internal.example.com', 7), Buffer.from('early')]));
    const got = await c.readBytes(14 + 5);
    expect(got.subarray(14).toString()).toBe('early');
    c.socket.end();
    expect(await c.ended()).toBe('fin');
    const entry = await until(() => proxy.connections.list({ state: 'closed' })[0]);
    expect(entry).toMatchObject({ bytesUp: 5, bytesDown: 5, closeCause: 'client-closed' });
  });

  it('idle relays are closed after idleTimeoutMs', async () => {
    const { proxy } = await setup({ idleTimeoutMs: 150 });
    const c = await tunnel(proxy);
    expect(await c.ended(3000)).not.toBe('open');
    expect(await until(() => proxy.connections.list({ state: 'closed' })[0])).toMatchObject({ closeCause: 'idle-timeout' });
  });

  it('stop() closes live relays and logs them as proxy-stopped; reset() restores the options', async () => {
    const { proxy } = await setup();
    proxy.users = [{ username: 'x', password: 'y' }];
    proxy.faults.add({ type: 'auth_reject', match: { user: 'nobody' } });
    proxy.reset();
    expect(proxy.users).toEqual([{ username: 'proxy-user', password: 'proxy-pass' }]);
    expect(proxy.faults.list()).toEqual([]);
    const c = await tunnel(proxy);
    await proxy.stop();
    expect(await c.ended(2000)).not.toBe('open');
    expect(await until(() => proxy.connections.list({ state: 'closed' })[0])).toMatchObject({ closeCause: 'proxy-stopped' });
  });

  it('a destination that refuses gets 0x05, an IP outside the directIps policy 0x02', async () => {
    const { proxy, echo } = await setup({ directIps: 'none' });
    const c = await rawConnect(proxy.port);
    clients.push(c);
    c.send(greetingBytes([0x02]));
    await c.readBytes(2);
    c.send(authBytes('proxy-user', 'proxy-pass'));
    await c.readBytes(4);
    c.send([0x05, 0x01, 0x00, 0x01, 127, 0, 0, 1, echo.port >> 8, echo.port & 0xff]);
    expect((await c.readBytes(14))[5]).toBe(Socks5Reply.NotAllowedByRuleset);
    await echo.stop();
    const d = await tunnel(proxy).catch((e: Error) => e);
    expect(d).toBeInstanceOf(Error);
    expect(proxy.connections.list({ replyCode: Socks5Reply.ConnectionRefused })).toHaveLength(1);
  });

  it('relays 16 MiB each way intact under backpressure, and a server-first banner sent before the reply', async () => {
    const payload = randomBytes(16 * 1024 * 1024);
    const sha = (b: Buffer | Uint8Array): string => createHash('sha256').update(b).digest('hex');
    // Sends a banner at once (before the proxy has replied to its client), then the payload, and
    // reports the hash of what it received.
    let uploadHash = '';
    let resolvePort!: (port: number) => void;
    const serverPort = new Promise<number>((r) => (resolvePort = r));
    const uploaded = new Promise<void>((resolve) => {
      const server = net.createServer((s) => {
        const h = createHash('sha256');
        s.write('BANNER\n');
        s.on('data', (d: Buffer) => h.update(d));
        s.on('end', () => {
          uploadHash = h.digest('hex');
          resolve();
        });
        s.on('error', () => {});
        s.end(payload);
      });
      server.listen(0, '127.0.0.1');
      stops.push(() => new Promise((r) => server.close(r)));
      server.once('listening', () => resolvePort((server.address() as AddressInfo).port));
    });
    const port = await serverPort;
    const { proxy } = await setup({ customerDns: { 'bulk.internal.example.com': `127.0.0.1:${port}` } });
    const { socket } = await SocksClient.createConnection({
      proxy: { host: '127.0.0.1', port: proxy.port, type: 5, userId: 'proxy-user', password: 'proxy-pass' },
      command: 'connect',
      destination: { host: 'bulk.internal.example.com', port: 1 },
      timeout: 5000,
    });
    const chunks: Buffer[] = [];
    let got = 0;
    let stalled = false;
    const downloaded = new Promise<void>((resolve) => socket.on('end', () => resolve()));
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      // Stall once mid-way so the proxy has to hold back.
      if (!stalled && got > 4 * 1024 * 1024) {
        stalled = true;
        socket.pause();
        setTimeout(() => socket.resume(), 100);
      }
    });
    socket.end(payload);
    await Promise.all([downloaded, uploaded]);
    const all = Buffer.concat(chunks);
    expect(all.subarray(0, 7).toString()).toBe('BANNER\n');
    expect(sha(all.subarray(7))).toBe(sha(payload));
    expect(uploadHash).toBe(sha(payload));
    const entry = await until(() => proxy.connections.list({ state: 'closed' })[0]);
    expect(entry).toMatchObject({ bytesUp: payload.length, bytesDown: payload.length + 7 });
  });
});
