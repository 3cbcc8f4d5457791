import { execa } from 'execa';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, binPath, repoRoot, waitForOutput } from '../../helpers/bin.js';

/** The built bin, run as a user runs it. */
const dirs: string[] = [];
const temp = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
beforeAll(() => assertBuilt());

const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

describe('sandbox-egress-emulator CLI', () => {
  it('prints its version', async () => {
    const r = await execa('node', [binPath, '--version']);
    expect(r.stdout.trim()).toBe(version);
  });

  it('rejects unknown commands and flags with exit code 2', async () => {
    const unknown = await execa('node', [binPath, 'frobnicate'], { reject: false });
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    const badFlag = await execa('node', [binPath, 'start', '--no-such-flag'], { reject: false });
    expect(badFlag.exitCode).toBe(2);
    expect(badFlag.stderr).toContain('--no-such-flag');
    const badPort = await execa('node', [binPath, 'start', '--port', 'http'], { reject: false });
    expect(badPort.exitCode).toBe(2);
  });

  it('starts, writes the ready file, serves the API and stops cleanly on SIGTERM', async () => {
    const dir = temp('see-cli-');
    const readyFile = join(dir, 'ready.json');
    const child = execa('node', [binPath, 'start', '--ephemeral', '--port', '0', '--ready-file', readyFile, '--log-level', 'silent'], { reject: false });
    try {
      const banner = await waitForOutput(child, 'SANDBOX0_TOKEN=');
      const ready = JSON.parse(readFileSync(readyFile, 'utf8'));
      expect(ready.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(ready.token).toMatch(/^s0_local_/);
      expect(banner).toContain(ready.apiUrl);
      const res = await fetch(`${ready.apiUrl}/api/v1/sandboxes`, { headers: { authorization: `Bearer ${ready.token}` } });
      expect(res.status).toBe(200);
      child.kill('SIGTERM');
      const result = await child;
      expect(result.exitCode).toBe(0);
      await expect(fetch(`${ready.apiUrl}/healthz`)).rejects.toThrow();
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('keeps state in --data-dir across runs of the bin', async () => {
    const dataDir = temp('see-cli-data-');
    const run = async (fn: (url: string, token: string) => Promise<void>) => {
      const readyFile = join(dataDir, 'ready.json');
      const child = execa('node', [binPath, 'start', '--data-dir', dataDir, '--port', '0', '--ready-file', readyFile, '--log-level', 'silent'], { reject: false });
      try {
        await waitForOutput(child, 'SANDBOX0_TOKEN=');
        const ready = JSON.parse(readFileSync(readyFile, 'utf8'));
        await fn(ready.apiUrl, ready.token);
        child.kill('SIGINT');
        expect((await child).exitCode).toBe(0);
      } finally {
        child.kill('SIGKILL');
      }
    };
    let id = '';
    await run(async (url, token) => {
      const res = await fetch(`${url}/api/v1/sandboxes`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{"template":"default"}' });
      id = ((await res.json()) as { data: { sandbox_id: string } }).data.sandbox_id;
    });
    await run(async (url, token) => {
      const res = await fetch(`${url}/api/v1/sandboxes/${id}`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
    });
    expect(readdirSync(dataDir)).toEqual(expect.arrayContaining(['emulator.db', 'secrets.key', 'token']));
  });
});

describe('npm package', () => {
  it('packs into a tarball whose bin runs from a temp dir with npx', async () => {
    const dir = temp('see-pack-');
    const packed = await execa('npm', ['pack', '--ignore-scripts', '--pack-destination', dir, '--json'], { cwd: repoRoot });
    const [{ filename, files }] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }];
    const paths = files.map((f) => f.path);
    expect(paths).toContain('dist/bin/main.js');
    expect(paths.some((p) => p.startsWith('fixtures/templates/'))).toBe(true);
    expect(paths.some((p) => p.startsWith('src/') || p.startsWith('test/'))).toBe(false);
    const run = await execa('npx', ['--yes', `./${filename}`, '--version'], { cwd: dir, env: { npm_config_update_notifier: 'false' } });
    expect(run.stdout.trim().split('\n').pop()).toBe(version);
  }, 600_000);
});
