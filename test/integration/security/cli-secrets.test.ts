import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as proxyCommand } from '../../../src/cli/commands/proxy.js';
import { createTestProxy, type TestProxy } from '../../../src/test-proxy/proxy.js';
import { assertBuilt, binPath, repoRoot } from '../../helpers/bin.js';
import { startHttpBlobServer, type Target } from '../../helpers/socks-targets.js';

/**
 * Secrets on the command line are visible to every user (finding 5): each can come from a file, an
 * environment variable (and the proxy URL from stdin); that form is documented first, and a secret
 * given in argv still works but draws a warning on stderr.
 */
const password = 'cli-secret-pass-41d7';
let dir = '';
beforeAll(() => {
  assertBuilt();
  dir = mkdtempSync(join(tmpdir(), 'see-cli-secrets-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function proxyCli(args: string[], env: NodeJS.ProcessEnv = {}, stdinText?: string): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  if (stdinText !== undefined) stdin.end(stdinText);
  const code = await proxyCommand(args, { stdout, stderr, env, stdin });
  return { code, out, err };
}

describe('proxy check: the proxy URL from stdin, a file or the environment', () => {
  let blob: Target;
  let proxy: TestProxy;
  beforeAll(async () => {
    blob = await startHttpBlobServer(1024);
    proxy = await createTestProxy({ users: [{ username: 'checker', password }], customerDns: { 'blob.internal.example.com:80': `127.0.0.1:${blob.port}` }, directIps: 'loopback' });
  });
  afterAll(async () => {
    await proxy?.stop();
    await blob?.stop();
  });
  const url = () => `socks5://checker:${password}@127.0.0.1:${proxy.port}`;
  const target = () => ['--target', 'blob.internal.example.com:80', '--target-ip', `127.0.0.1:${blob.port}`, '--probe', 'http'];

  it.each([
    ['stdin (-)', () => ({ args: ['check', '-', ...target()], env: {}, stdin: url() + '\n' })],
    ['--proxy-url-file', () => {
      const file = join(dir, 'proxy-url');
      writeFileSync(file, url() + '\n', { mode: 0o600 });
      return { args: ['check', '--proxy-url-file', file, ...target()], env: {}, stdin: undefined };
    }],
    ['SEE_PROXY_URL', () => ({ args: ['check', ...target()], env: { SEE_PROXY_URL: url() }, stdin: undefined })],
  ])('%s: authenticates, and nothing warns', async (_form, make) => {
    const { args, env, stdin } = make();
    const before = proxy.connections.list().filter((e) => e.user === 'checker').length;
    const r = await proxyCli(args, env, stdin);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('OK: CONNECT by hostname works');
    expect(proxy.connections.list().filter((e) => e.user === 'checker').length).toBeGreaterThan(before);
  });

  it('a password in the URL on the command line still works, with a warning on stderr that does not repeat it', async () => {
    const r = await proxyCli(['check', url(), ...target()]);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/warning: the proxy password is on the command line, where every user of this machine can read it \(ps\); use stdin \('-'\), --proxy-url-file or SEE_PROXY_URL instead/);
    expect(r.err).not.toContain(password);
    // No password, no warning.
    const open = await proxyCli(['check', `socks5://127.0.0.1:1`, '--target', 'a.example:80', '--timeout', '200']);
    expect(open.err).not.toContain('warning');
  });

  it('the help shows the stdin form first', async () => {
    const r = await proxyCli(['check', '--help']);
    const usage = r.out.split('\n')[0]!;
    expect(usage).toContain('proxy check - --target');
    expect(r.out.indexOf('--proxy-url-file')).toBeLessThan(r.out.indexOf('socks5://host:port'));
  });
});

describe('start / run: the token and the test proxy users from a file or the environment', () => {
  const tokenValue = `s0_local_${'3d'.repeat(24)}`;
  const printEnv = ['node', '-e', 'console.log(JSON.stringify({ t: process.env.SANDBOX0_TOKEN, u: process.env.SEE_PROXY_USERNAME, p: process.env.SEE_PROXY_PASSWORD }))'];

  it('--token-file and --proxy-user-file: the emulator uses them, and nothing warns', async () => {
    const tokenFile = join(dir, 'token');
    const usersFile = join(dir, 'users');
    writeFileSync(tokenFile, tokenValue + '\n', { mode: 0o600 });
    writeFileSync(usersFile, `# test proxy users\nfile-user:${password}\nsecond:pass-2\n`, { mode: 0o600 });
    const r = await execa('node', [binPath, 'run', '--token-file', tokenFile, '--proxy-user-file', usersFile, '--interception', 'explicit', '--', ...printEnv], { reject: false, env: { SANDBOX0_TOKEN: '' } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!)).toEqual({ t: tokenValue, u: 'file-user', p: password });
    expect(r.stderr).not.toContain('warning');
  });

  it('SEE_PROXY_USERS, one USER:PASSWORD a line', async () => {
    const r = await execa('node', [binPath, 'run', '--interception', 'explicit', '--', ...printEnv], { reject: false, env: { SEE_PROXY_USERS: `env-user:${password}\n`, SEE_TOKEN: tokenValue } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!)).toMatchObject({ t: tokenValue, u: 'env-user', p: password });
  });

  it('--token and --proxy-user in argv still work, each with a warning that does not repeat the secret', async () => {
    const r = await execa('node', [binPath, 'run', '--token', tokenValue, '--proxy-user', `argv-user:${password}`, '--interception', 'explicit', '--', ...printEnv], { reject: false, env: { SANDBOX0_TOKEN: '' } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!)).toEqual({ t: tokenValue, u: 'argv-user', p: password });
    expect(r.stderr).toContain('warning: the API token (--token) is on the command line, where every user of this machine can read it (ps); use --token-file or SEE_TOKEN instead');
    expect(r.stderr).toContain('warning: a test proxy password (--proxy-user) is on the command line');
    expect(r.stderr).not.toContain(tokenValue);
    expect(r.stderr).not.toContain(password);
  });

  it('a token file that cannot be read is a usage error naming the flag', async () => {
    const r = await execa('node', [binPath, 'start', '--ephemeral', '--token-file', join(dir, 'missing')], { reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('--token-file: cannot read');
  });

  it('the help and the README show the file/environment forms first', async () => {
    for (const command of ['start', 'run']) {
      const help = (await execa('node', [binPath, command, '--help'])).stdout;
      expect(help.indexOf('--token-file'), command).toBeGreaterThan(0);
      expect(help.indexOf('--token-file'), command).toBeLessThan(help.indexOf('--token <token>'));
      expect(help.indexOf('--proxy-user-file'), command).toBeLessThan(help.indexOf('--proxy-user <u:p>'));
    }
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    expect(readme.indexOf('| `--token-file <f>`')).toBeGreaterThan(0);
    expect(readme.indexOf('| `--token-file <f>`')).toBeLessThan(readme.indexOf('| `--token <t>`'));
    expect(readme.indexOf('| `--proxy-user-file <f>`')).toBeLessThan(readme.indexOf('| `--proxy-user <u:p>`'));
    expect(readme).toMatch(/\| `proxy check - --target host:port`/);
  });
});
