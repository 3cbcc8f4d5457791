import { PassThrough } from 'node:stream';
import { SocksClient } from 'socks';
import { afterEach, describe, expect, it } from 'vitest';
import { run, serve } from '../../../src/cli/commands/proxy.js';
import { startEchoServer, type Target } from '../../helpers/socks-targets.js';

describe('proxy serve', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  /** Starts `serve` in-process; resolves with its address once it printed it. */
  async function start(args: string[]): Promise<{ port: number; out: () => string }> {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    stderr.resume();
    let out = '';
    const ac = new AbortController();
    const listening = new Promise<number>((resolve) => {
      stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
    });
    const done = serve(['--port', '0', ...args], { stdout, stderr, env: {} }, ac.signal);
    cleanups.push(async () => {
      ac.abort();
      await done;
    });
    const port = await Promise.race([listening, done.then((code) => Promise.reject(new Error(`serve exited with ${code}`)))]);
    return { port, out: () => out };
  }

  it('serves with --user, --map and --fault, printing its address and never the password', async () => {
    const echo: Target = await startEchoServer();
    cleanups.push(() => echo.stop());
    const { port, out } = await start([
      '--user',
      'alice:wonder-pass',
      '--map',
      `echo.corp.example.com=127.0.0.1:${echo.port}`,
      '--fault',
      '{"name":"no-v6","type":"reject_ipv6"}',
    ]);
    expect(out()).toContain('users: alice');
    expect(out()).toContain(`map: echo.corp.example.com -> 127.0.0.1:${echo.port}`);
    expect(out()).toContain('"type":"reject_ipv6"');
    expect(out()).not.toContain('wonder-pass');
    const { socket } = await SocksClient.createConnection({
      proxy: { host: '127.0.0.1', port, type: 5, userId: 'alice', password: 'wonder-pass' },
      command: 'connect',
      destination: { host: 'echo.corp.example.com', port: 9 },
      timeout: 5000,
    });
    socket.destroy();
    await expect(
      SocksClient.createConnection({
        proxy: { host: '127.0.0.1', port, type: 5, userId: 'alice', password: 'wonder-pass' },
        command: 'connect',
        destination: { host: '::1', port: echo.port },
        timeout: 5000,
      }),
    ).rejects.toThrow(/AddressNotSupported/);
  });

  it('--fixtures starts the customer services and maps the default world', async () => {
    const { out } = await start(['--fixtures']);
    expect(out()).toMatch(/map: api\.internal\.example\.com:443 -> 127\.0\.0\.1:\d+/);
    expect(out()).toMatch(/fixture CA: .*fixtures\/ca\/ca\.crt/);
  });

  it('bad flags are usage errors (exit 2) with a clear message', async () => {
    const stderr = new PassThrough();
    let err = '';
    stderr.on('data', (c: Buffer) => (err += c.toString()));
    expect(await run(['serve', '--user', 'nopassword'], { stdout: new PassThrough(), stderr, env: {} })).toBe(2);
    expect(err).toContain('--user expects USER:PASSWORD');
    err = '';
    expect(await run(['serve', '--port', '0', '--fault', '{"type":"nope"}'], { stdout: new PassThrough(), stderr, env: {} })).toBe(1);
    expect(err).toContain('unknown fault type "nope"');
  });
});
