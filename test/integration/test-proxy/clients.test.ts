import { execFile } from 'node:child_process';
import type { Socket } from 'node:net';
import { promisify } from 'node:util';
import { SocksClient } from 'socks';
import socksv5 from 'socksv5';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Socks5Reply } from '../../../src/socks5/protocol.js';
import { defaultCustomerDns, startCustomerServices, type CustomerServices } from '../../../src/test-proxy/customer-services.js';
import { createTestProxy, type TestProxy } from '../../../src/test-proxy/proxy.js';
import { startEchoServer, type Target } from '../../helpers/socks-targets.js';

const run = promisify(execFile);

/** curl exits non-zero on failure; we want its exit code and stderr either way. */
async function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('curl', args, { timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('test proxy with real clients', () => {
  let services: CustomerServices;
  let proxy: TestProxy;
  let echo: Target;

  beforeAll(async () => {
    services = await startCustomerServices();
    echo = await startEchoServer();
    proxy = await createTestProxy({
      customerDns: { ...defaultCustomerDns(services), 'echo.internal.example.com': `127.0.0.1:${echo.port}` },
    });
  });
  afterAll(async () => {
    await proxy?.stop();
    await services?.stop();
    await echo?.stop();
  });
  beforeEach(() => proxy.connections.clear());

  it('curl --socks5-hostname fetches the HTTPS fixture by name, trusting the fixture CA', async () => {
    const r = await curl([
      '-sS',
      '--max-time',
      '10',
      '--socks5-hostname',
      proxy.address,
      '--proxy-user',
      'proxy-user:proxy-pass',
      '--cacert',
      services.caCertPath,
      'https://api.internal.example.com/health',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const body = JSON.parse(r.stdout) as { service: string; path: string; address: string };
    expect(body).toMatchObject({ service: 'api.internal.example.com', path: '/health', address: '127.0.0.1' });
    const [entry] = proxy.connections.list();
    expect(entry).toMatchObject({
      user: 'proxy-user',
      method: 'username-password',
      atyp: 'domain',
      host: 'api.internal.example.com',
      port: 443,
      upstream: services.internalApi.address,
      replyCode: Socks5Reply.Succeeded,
    });
    expect(entry!.bytesUp).toBeGreaterThan(100);
    expect(entry!.bytesDown).toBeGreaterThan(500);
  });

  it('curl reports the rejection of a wrong password, and the password is nowhere in the log', async () => {
    const r = await curl([
      '-sS',
      '--max-time',
      '10',
      '--socks5-hostname',
      proxy.address,
      '--proxy-user',
      'proxy-user:not-the-password',
      '--cacert',
      services.caCertPath,
      'https://api.internal.example.com/',
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/User was rejected by the SOCKS5 server|authentication failed/i);
    const entries = proxy.connections.list();
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ user: 'proxy-user', auth: 'rejected', closeCause: 'auth-failed' });
    expect(JSON.stringify(entries)).not.toContain('not-the-password');
  });

  it('a name missing from the customer view gets 0x04 host unreachable', async () => {
    const r = await curl(['-sS', '--max-time', '10', '--socks5-hostname', proxy.address, '--proxy-user', 'proxy-user:proxy-pass', 'http://nowhere.internal.example.com/']);
    expect(r.code).not.toBe(0);
    expect(proxy.connections.list()[0]).toMatchObject({ atyp: 'domain', host: 'nowhere.internal.example.com', replyCode: Socks5Reply.HostUnreachable });
  });

  it('the identify service sees the proxy, not the client', async () => {
    const r = await curl(['-sS', '--max-time', '10', '--socks5-hostname', proxy.address, '--proxy-user', 'proxy-user:proxy-pass', 'http://identify.internal.example.com/']);
    expect(r.code).toBe(0);
    const body = JSON.parse(r.stdout) as { service: string; peer: string; port: number };
    const curlSide = proxy.connections.list()[0]!.client;
    expect(body.peer).not.toBe(curlSide);
    expect(body.service).toBe('identify');
  });

  it('the socks npm client connects by hostname with username/password', async () => {
    const { socket } = await SocksClient.createConnection({
      proxy: { host: '127.0.0.1', port: proxy.port, type: 5, userId: 'proxy-user', password: 'proxy-pass' },
      command: 'connect',
      destination: { host: 'echo.internal.example.com', port: 7 },
      timeout: 5000,
    });
    const echoed = await roundTrip(socket, 'hello through socks');
    expect(echoed).toBe('hello through socks');
    expect(proxy.connections.list()[0]).toMatchObject({ user: 'proxy-user', atyp: 'domain', host: 'echo.internal.example.com', port: 7 });
  });

  it('the socksv5 client (interop peer) connects by hostname with username/password', async () => {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const options = {
        host: 'echo.internal.example.com',
        port: 7,
        proxyHost: '127.0.0.1',
        proxyPort: proxy.port,
        localDNS: false,
        strictLocalDNS: false,
        auths: [socksv5.auth.UserPassword('proxy-user', 'proxy-pass')],
      };
      const client = new socksv5.Client(options);
      client.connect(options);
      client.on('connect', resolve);
      client.on('error', reject);
    });
    expect(await roundTrip(socket, 'hello through socksv5')).toBe('hello through socksv5');
    expect(proxy.connections.list()[0]).toMatchObject({ user: 'proxy-user', atyp: 'domain', host: 'echo.internal.example.com' });
  });
});

function roundTrip(socket: Socket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const timer = setTimeout(() => reject(new Error(`echo timed out (got ${JSON.stringify(got)})`)), 5000);
    socket.on('data', (c: Buffer) => {
      got += c.toString();
      if (got.length >= text.length) {
        clearTimeout(timer);
        socket.destroy();
        resolve(got);
      }
    });
    socket.on('error', reject);
    socket.write(text);
  });
}
