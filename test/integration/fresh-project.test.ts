import { execa } from 'execa';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, repoRoot } from '../helpers/bin.js';
import { runnableBlocks } from '../helpers/readme-blocks.js';

/**
 * The first hour of a new user, from the packed package: a fresh `npm init` project installs the
 * tarball (first with --ignore-scripts, as pnpm does, which must end in a hint that fixes it), writes
 * the README's vitest config and two test files, and runs them in parallel against one
 * `sandbox-egress-emulator run --` emulator, twice in a row without a reset: each file is a tenant of
 * its own, and as root each sees transparent interception (the files assert it).
 */
let dir = '';
let project = '';
const devVersions = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).devDependencies as Record<string, string>;
// Nothing of this run's vitest, emulator or interception choice leaks into the user's project.
const cleanEnv = () => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && !k.startsWith('SANDBOX0_') && !k.startsWith('SEE_'))),
  CI: 'true',
  NO_COLOR: '1',
  FORCE_COLOR: '0',
  npm_config_update_notifier: 'false',
});

beforeAll(() => {
  assertBuilt();
  dir = mkdtempSync(join(tmpdir(), 'see-fresh-'));
  project = join(dir, 'project');
  mkdirSync(project);
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a fresh project with the packed package', () => {
  it('installs, explains a skipped native build, and runs the README test files in parallel on one run -- emulator, twice', { timeout: 900_000 }, async () => {
    const packed = await execa('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: repoRoot, env: cleanEnv(), extendEnv: false });
    const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }];
    const env = cleanEnv();
    const sh = (cmd: string, args: string[], timeout = 600_000) => execa(cmd, args, { cwd: project, env, extendEnv: false, reject: false, all: true, timeout });

    expect((await sh('npm', ['init', '-y'])).exitCode).toBe(0);
    const install = await sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', join(dir, filename), `sandbox0@${devVersions.sandbox0}`, `vitest@${devVersions.vitest}`]);
    expect(install.exitCode, install.all).toBe(0);

    // No native build: the error names the one command that fixes it.
    const unbuilt = await sh('npx', ['sandbox-egress-emulator', 'run', '--', 'true']);
    expect(unbuilt.exitCode).toBe(1);
    expect(unbuilt.stderr).toContain('`npm rebuild better-sqlite3`');
    const rebuild = await sh('npm', ['rebuild', 'better-sqlite3']);
    expect(rebuild.exitCode, rebuild.all).toBe(0);

    const files = runnableBlocks().filter((b) => b.file);
    expect(files.map((b) => b.file)).toEqual(['vitest.config.ts', 'test/docs-policy.test.ts', 'test/dry-run.test.ts']);
    for (const b of files) {
      mkdirSync(dirname(join(project, b.file!)), { recursive: true });
      writeFileSync(join(project, b.file!), b.code);
    }

    // The README's CI command (without sudo: this suite already runs as root, or not at all as root).
    const run = await sh('npx', ['sandbox-egress-emulator', 'run', '--', 'sh', '-c', 'npx vitest run && npx vitest run']);
    const output = run.all.replace(/\u001b\[[0-9;]*m/g, '');
    expect(run.exitCode, output).toBe(0);
    expect(output.match(/Test Files +2 passed \(2\)/g), output).toHaveLength(2);
    expect(output).not.toMatch(/already exists/);
  });
});
