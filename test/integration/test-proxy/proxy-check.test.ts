import { PassThrough } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../src/cli/commands/proxy.js';
import { checkProxy, renderCheckReport, type CheckReport, type FindingCode } from '../../../src/socks5/check.js';
import { createTestProxy, type TestProxy } from '../../../src/test-proxy/proxy.js';
import { hasBinary, isRoot, startDante, startMicrosocks } from '../../helpers/socks-servers.js';
import { startHttpBlobServer, type Target } from '../../helpers/socks-targets.js';

const codes = (r: CheckReport): FindingCode[] => r.findings.map((f) => f.code);

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await run(args, { stdout, stderr, env: {} });
  return { code, out, err };
}

describe('proxy check', () => {
  let blob: Target;
  let blob6: Target;
  const bodyBytes = 64 * 1024;

  beforeAll(async () => {
    blob = await startHttpBlobServer(bodyBytes);
    blob6 = await startHttpBlobServer(bodyBytes, '::1');
  });
  afterAll(async () => {
    await blob?.stop();
    await blob6?.stop();
  });

  describe('against our test proxy and each fault', () => {
    let proxy: TestProxy;
    beforeAll(async () => {
      proxy = await createTestProxy({ customerDns: { 'blob.internal.example.com:80': `127.0.0.1:${blob.port}` }, directIps: 'loopback' });
    });
    afterEach(() => proxy.faults.clear());
    afterAll(async () => {
      await proxy?.stop();
    });

    const check = (password = 'proxy-pass'): Promise<CheckReport> =>
      checkProxy({
        proxy: { host: '127.0.0.1', port: proxy.port, username: 'proxy-user', password },
        target: { host: 'blob.internal.example.com', port: 80 },
        targetIpv4: { host: '127.0.0.1', port: blob.port },
        targetIpv6: { host: '::1', port: blob6.port },
        timeoutMs: 2000,
        slowMs: 200,
      });

    it('a healthy proxy: every step passes, no findings, exit 0 from the CLI', async () => {
      const r = await check();
      expect(r.steps.map((s) => [s.name, s.status])).toEqual([
        ['tcp-connect', 'ok'],
        ['greeting', 'ok'],
        ['auth', 'ok'],
        ['connect-hostname', 'ok'],
        ['relay', 'ok'],
        ['connect-ipv4', 'ok'],
        ['connect-ipv6', 'ok'],
      ]);
      expect(r.findings).toEqual([]);
      expect(r.hostnameConnectWorks).toBe(true);
      expect(renderCheckReport(r)).toContain('chose 0x02 username/password');
      const c = await cli(['check', `socks5://proxy-user:proxy-pass@127.0.0.1:${proxy.port}`, '--target', 'blob.internal.example.com:80', '--target-ip', `127.0.0.1:${blob.port}`, '--target-ip6', `[::1]:${blob6.port}`]);
      expect(c.code).toBe(0);
      expect(c.out).toContain('OK: CONNECT by hostname works');
      expect(c.out).not.toContain('proxy-pass');
    });

    it('wrong password: authentication rejected', async () => {
      const r = await check('wrong');
      expect(codes(r)).toEqual(['auth_rejected']);
      expect(r.hostnameConnectWorks).toBe(false);
    });

    const cases: [string, Record<string, unknown>, FindingCode, RegExp][] = [
      ['auth_reject', {}, 'auth_rejected', /authentication rejected: the proxy answered status 0x01/],
      ['no_acceptable_method', {}, 'no_acceptable_method', /no acceptable authentication method/],
      ['reply_code', { code: 5 }, 'reply_code', /reply 0x05 connection refused to a domain CONNECT \(IPv4 gets the same reply\)/],
      ['reject_domain_atyp', {}, 'cannot_resolve_hostnames', /^proxy cannot resolve hostnames: reply 0x08 address type not supported to a domain CONNECT, IPv4 works$/],
      ['reject_ipv6', {}, 'ipv6_rejected', /proxy does not support IPv6: reply 0x08/],
      ['handshake_delay', { latencyMs: 300 }, 'slow_handshake', /slow handshake/],
      ['connect_delay', { latencyMs: 300 }, 'slow_connect', /slow CONNECT/],
      ['bandwidth', { rate: 100 }, 'slow_relay', /slow relay: \d+ KB\/s/],
      ['reset_after_bytes', { bytes: 1000 }, 'reset_during_relay', /connection reset by the proxy after \d+ bytes/],
      ['silent_close', {}, 'closed_at_request', /closed the connection after the CONNECT request without replying/],
      ['fragmented_replies', {}, 'fragmented_replies', /fragmented replies: the proxy wrote its method selection in 2 pieces/],
    ];
    for (const [type, attributes, code, message] of cases) {
      it(`${type}: the report names it (${code})`, async () => {
        proxy.faults.add({ type, attributes });
        const r = await check();
        expect(codes(r)).toContain(code);
        expect(r.findings.find((f) => f.code === code)!.message).toMatch(message);
      });
    }

    it('silent_close at the greeting', async () => {
      proxy.faults.add({ type: 'silent_close', attributes: { stage: 'greeting' } });
      expect(codes(await check())).toEqual(['closed_at_greeting']);
    });

    it('the CLI exits 1 and prints the diagnosis when hostnames fail', async () => {
      proxy.faults.add({ type: 'reject_domain_atyp' });
      const c = await cli(['check', `socks5://proxy-user:proxy-pass@127.0.0.1:${proxy.port}`, '--target', 'blob.internal.example.com:80', '--target-ip', `127.0.0.1:${blob.port}`, '--json']);
      expect(c.code).toBe(1);
      const report = JSON.parse(c.out) as CheckReport;
      expect(codes(report)).toEqual(['cannot_resolve_hostnames']);
      expect(c.out).not.toContain('proxy-pass');
    });

    it('an unreachable proxy and bad arguments', async () => {
      const r = await checkProxy({ proxy: { host: '127.0.0.1', port: 1 }, target: { host: 'x.example.com', port: 80 }, timeoutMs: 1000 });
      expect(codes(r)).toEqual(['proxy_unreachable']);
      const bad = await cli(['check', 'http://127.0.0.1:1', '--target', 'a:1']);
      expect(bad.code).toBe(2);
      expect(bad.err).toContain('unsupported proxy scheme');
    });
  });

  describe.skipIf(!hasBinary('microsocks'))('against microsocks', () => {
    it('works by hostname with user/pass; a wrong password is named', async () => {
      const m = await startMicrosocks();
      try {
        const c = await cli(['check', `socks5://${m.username}:${m.password}@127.0.0.1:${m.port}`, '--target', `localhost:${blob.port}`, '--target-ip', `127.0.0.1:${blob.port}`, '--target-ip6', `[::1]:${blob6.port}`]);
        expect(c.out).toContain('OK: CONNECT by hostname works');
        expect(c.code).toBe(0);
        const bad = await checkProxy({ proxy: { host: '127.0.0.1', port: m.port, username: m.username, password: 'nope' }, target: { host: 'localhost', port: blob.port } });
        expect(codes(bad)).toEqual(['auth_rejected']);
        const noCreds = await checkProxy({ proxy: { host: '127.0.0.1', port: m.port }, target: { host: 'localhost', port: blob.port } });
        expect(codes(noCreds)).toEqual(['no_acceptable_method']);
      } finally {
        await m.stop();
      }
    });
  });

  const danteSkip = !hasBinary('danted') ? 'danted not installed' : !isRoot() ? 'not root: dante needs a system user for username auth' : '';
  describe.skipIf(danteSkip !== '')(`against dante-server${danteSkip ? ` (skipped: ${danteSkip})` : ''}`, () => {
    it('works by hostname with user/pass; a wrong password is named', async () => {
      const d = await startDante();
      try {
        const r = await checkProxy({
          proxy: { host: '127.0.0.1', port: d.port, username: d.username, password: d.password },
          target: { host: 'localhost', port: blob.port },
          targetIpv4: { host: '127.0.0.1', port: blob.port },
          lookup: async () => [{ address: '127.0.0.1', family: 4 }],
        });
        expect(r.findings).toEqual([]);
        expect(r.hostnameConnectWorks).toBe(true);
        expect(r.steps.find((s) => s.name === 'relay')?.detail).toMatch(/HTTP GET through the tunnel: \d+ bytes back/);
        const bad = await checkProxy({ proxy: { host: '127.0.0.1', port: d.port, username: d.username, password: 'nope' }, target: { host: 'localhost', port: blob.port } });
        expect(codes(bad)).toEqual(['auth_rejected']);
      } finally {
        await d.stop();
      }
    });
  });
});
