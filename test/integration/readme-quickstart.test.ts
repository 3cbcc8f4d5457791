import { execa, type ResultPromise } from 'execa';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, waitForOutput } from '../helpers/bin.js';

/**
 * The README's quick start, taken from the README itself and run in a fresh clone of the repository
 * (committed files only), so the documented commands cannot rot. `npm ci` is checked with a dry run
 * (the lock file must match package.json) and the repository's node_modules are reused, because a
 * real install compiles native modules for minutes; `npm test` is checked, not run (that would be
 * this very suite, recursively).
 */

/** The command lines of the first code block under "## Quick start", without trailing comments. */
function quickStartCommands(readme: string): string[] {
  const section = readme.split(/^## /m).find((s) => s.startsWith('Quick start'));
  if (!section) throw new Error('README has no "## Quick start" section');
  const block = /```(?:sh|bash|shell)?\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error('the Quick start section has no code block');
  return block[1]!
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/** `a && b` → [['a'], ['b', ...args]] as argv lists (the quick start uses no quoting). */
const steps = (line: string) => line.split('&&').map((s) => s.trim().split(/\s+/));

const commands = quickStartCommands(readFileSync(join(repoRoot, 'README.md'), 'utf8'));
let clone: string;
let started: ResultPromise | undefined;
let emulatorPid: number | undefined;

beforeAll(async () => {
  clone = join(mkdtempSync(join(tmpdir(), 'see-quickstart-')), 'repo');
  await execa('git', ['clone', '--quiet', repoRoot, clone]);
});

afterAll(async () => {
  // Whatever happened, nothing started here outlives the file.
  if (emulatorPid !== undefined) {
    try {
      process.kill(emulatorPid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  if (started && started.exitCode === null) started.kill('SIGTERM');
  await started?.catch(() => undefined);
  if (clone) rmSync(join(clone, '..'), { recursive: true, force: true });
});

describe('README quick start', () => {
  it('has exactly the two documented commands', () => {
    expect(commands).toHaveLength(2);
    expect(steps(commands[0]!)[0]).toEqual(['npm', 'ci']);
    expect(steps(commands[1]!)[0]).toEqual(['npm', 'ci']);
  });

  it('npm ci: the committed lock file matches package.json', async () => {
    const dry = await execa('npm', ['ci', '--dry-run', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: clone, reject: false, all: true });
    expect(dry.exitCode, dry.all).toBe(0);
  });

  it('the first command starts the emulator from the clone, and it stops on SIGTERM', { timeout: 180_000 }, async () => {
    const [install, start] = steps(commands[0]!) as [string[], string[]];
    expect(install).toEqual(['npm', 'ci']);
    expect(start.slice(0, 2)).toEqual(['npm', 'start']);
    // Stand-in for the install (see above): the dependencies the lock file pins, already installed.
    symlinkSync(join(repoRoot, 'node_modules'), join(clone, 'node_modules'), 'dir');
    expect(existsSync(join(clone, 'dist'))).toBe(false);

    const readyFile = join(clone, '..', 'ready.json');
    const args = [...start.slice(1), ...(start.includes('--') ? [] : ['--']), '--port', '0', '--ready-file', readyFile];
    started = execa(start[0]!, args, { cwd: clone, reject: false, all: true });
    const banner = await waitForOutput(started, 'export SANDBOX0_TOKEN=', 150_000);

    const ready = JSON.parse(readFileSync(readyFile, 'utf8')) as { apiUrl: string; token: string; pid: number };
    emulatorPid = ready.pid;
    expect(banner).toContain(`export SANDBOX0_BASE_URL=${ready.apiUrl}`);
    expect(banner).toContain(`export SANDBOX0_TOKEN=${ready.token}`);
    expect(banner).toMatch(/state +in memory \(--ephemeral\)/);
    expect(existsSync(join(clone, 'dist', 'cli', 'main.js'))).toBe(true);
    expect((await fetch(`${ready.apiUrl}/_emulator/health`)).status).toBe(200);
    const list = await fetch(`${ready.apiUrl}/api/v1/sandboxes`, { headers: { authorization: `Bearer ${ready.token}` } });
    expect(list.status).toBe(200);

    process.kill(ready.pid, 'SIGTERM');
    const result = await started;
    emulatorPid = undefined;
    expect(result.exitCode, String(result.all)).toBe(0);
    await expect(fetch(`${ready.apiUrl}/_emulator/health`)).rejects.toThrow();
  });

  it('the second command names scripts that exist: npm test builds, then runs vitest', () => {
    const [install, test] = steps(commands[1]!) as [string[], string[]];
    expect(install).toEqual(['npm', 'ci']);
    expect(test).toEqual(['npm', 'test']);
    const pkg = JSON.parse(readFileSync(join(clone, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.test).toMatch(/npm run build/);
    expect(pkg.scripts.test).toMatch(/vitest run/);
    expect(pkg.scripts.build).toBeDefined();
    expect(pkg.scripts.start).toMatch(/npm run build/);
  });
});
