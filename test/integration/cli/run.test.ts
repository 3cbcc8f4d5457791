import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../src/cli/commands/run.js';
import { assertBuilt, binPath, repoRoot, waitForOutput } from '../../helpers/bin.js';
import { fakeIo } from '../../unit/cli/fake-io.js';

/** `run -- <command>`: start, run with the env set, stop, exit with the command's code. */
let dir = '';
beforeAll(() => {
  assertBuilt();
  dir = mkdtempSync(join(tmpdir(), 'see-run-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The official SDK, unchanged, configured only from the variables `run` sets. */
const sdkScript = `
import { Client } from 'sandbox0';
const c = new Client({ token: process.env.SANDBOX0_TOKEN, baseUrl: process.env.SANDBOX0_BASE_URL });
await c.credentialSources.create({ name: 'corp-proxy-source', resolverKind: 'static_username_password',
  spec: { staticUsernamePassword: { username: 'proxy-user', password: 'proxy-pass' } } });
const sandbox = await c.sandboxes.claim('default');
const policy = await sandbox.updateNetworkPolicy({
  mode: 'block-all',
  egress: {
    trafficRules: [{ name: 'allow-private-api', action: 'allow', domains: ['api.internal.example.com'], ports: [{ port: 443, protocol: 'tcp' }], appProtocols: ['tls'] }],
    proxy: { type: 'socks5', address: 'proxy.example.com:1080', credentialRef: 'corp-proxy' },
  },
  credentialBindings: [{ ref: 'corp-proxy', sourceRef: 'corp-proxy-source', projection: { type: 'username_password', usernamePassword: {} } }],
});
const back = await sandbox.getNetworkPolicy();
if (JSON.stringify(back) !== JSON.stringify(policy)) throw new Error('read-back differs');
console.log(JSON.stringify({ pid: process.pid, url: process.env.SANDBOX0_BASE_URL, see: process.env.SEE_API_URL === process.env.SANDBOX0_BASE_URL && process.env.SEE_TOKEN === process.env.SANDBOX0_TOKEN, proxy: back.egress.proxy, refs: back.credentialBindings.map((b) => b.ref) }));
`;

describe('sandbox-egress-emulator run', () => {
  it('runs a script using the official SDK against a fresh emulator, then stops it and leaves nothing behind', async () => {
    const r = await execa('node', [binPath, 'run', '--', 'node', '--input-type=module', '-e', sdkScript], { cwd: repoRoot, reject: false, env: { SANDBOX0_TOKEN: '' } });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const out = JSON.parse(r.stdout) as { pid: number; url: string; see: boolean; proxy: unknown; refs: string[] };
    expect(out.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(out.see).toBe(true);
    expect(out.proxy).toEqual({ type: 'socks5', address: 'proxy.example.com:1080', credentialRef: 'corp-proxy' });
    expect(out.refs).toEqual(['corp-proxy']);
    expect(isAlive(out.pid)).toBe(false);
    await expect(fetch(`${out.url}/healthz`)).rejects.toThrow();
  });

  it("exits with the command's exit code, 128+N when it dies of signal N, and 127 when it cannot start", async () => {
    expect((await execa('node', [binPath, 'run', '--', 'node', '-e', 'process.exit(7)'], { reject: false })).exitCode).toBe(7);
    expect((await execa('node', [binPath, 'run', 'node', '-e', "process.kill(process.pid, 'SIGTERM')"], { reject: false })).exitCode).toBe(143);
    const missing = await execa('node', [binPath, 'run', '--', 'no-such-command-see-test'], { reject: false });
    expect(missing.exitCode).toBe(127);
    expect(missing.stderr).toContain('cannot run "no-such-command-see-test": command not found');
  });

  it('passes its options through (--token, --port 0, --ready-file) and the test proxy settings', async () => {
    const readyFile = join(dir, 'ready.json');
    const token = 's0_local_' + 'cd'.repeat(24);
    const r = await execa('node', [binPath, 'run', '--token', token, '--port', '0', '--ready-file', readyFile, '--', 'node', '-e', 'console.log([process.env.SANDBOX0_TOKEN, process.env.SANDBOX0_BASE_URL, process.env.SEE_PROXY_ADDRESS, process.env.SEE_PROXY_USERNAME].join(" "))'], { reject: false });
    expect(r.exitCode).toBe(0);
    const [seenToken, seenUrl, proxyAddress, proxyUser] = r.stdout.trim().split(' ');
    expect(seenToken).toBe(token);
    const ready = JSON.parse(readFileSync(readyFile, 'utf8')) as { apiUrl: string; token: string; proxy: { address: string; username: string } };
    expect(ready).toMatchObject({ apiUrl: seenUrl, token });
    // The embedded test proxy's settings come along (the ready file is the reference).
    expect(ready.proxy).toMatchObject({ address: proxyAddress, username: proxyUser });
    expect(proxyAddress).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('runs in-process too, piping the command output into the injected streams', async () => {
    const f = fakeIo({ PATH: process.env.PATH, SEE_TOKEN: 's0_local_' + 'ef'.repeat(24) });
    const code = await run(['--', 'node', '-e', 'console.log(process.env.SEE_API_URL); console.error(process.env.SEE_TOKEN)'], f.io);
    expect(code).toBe(0);
    expect(f.stdout()).toMatch(/^http:\/\/127\.0\.0\.1:\d+\n$/);
    expect(f.stderr()).toBe('s0_local_' + 'ef'.repeat(24) + '\n');
    expect(process.listenerCount('SIGTERM')).toBe(0);
    await expect(fetch(`${f.stdout().trim()}/healthz`)).rejects.toThrow();
  });

  it('forwards SIGTERM to the command and still stops the emulator', async () => {
    const script = "console.log(JSON.stringify({ pid: process.pid, url: process.env.SANDBOX0_BASE_URL })); setInterval(() => {}, 1000);";
    const child = execa('node', [binPath, 'run', '--', 'node', '-e', script], { reject: false });
    let childPid = 0;
    try {
      const line = await waitForOutput(child, '}');
      const info = JSON.parse(line.trim()) as { pid: number; url: string };
      childPid = info.pid;
      expect((await fetch(`${info.url}/healthz`)).status).toBe(200);
      child.kill('SIGTERM');
      const result = await child;
      expect(result.exitCode).toBe(143);
      expect(isAlive(info.pid)).toBe(false);
      await expect(fetch(`${info.url}/healthz`)).rejects.toThrow();
    } finally {
      child.kill('SIGKILL');
      if (childPid && isAlive(childPid)) process.kill(childPid, 'SIGKILL');
    }
  });
});
