import { execa } from 'execa';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, repoRoot } from '../helpers/bin.js';

/**
 * The sample project in examples/vitest-project, installed and run as a user would: it depends on this
 * package (linked from the repo, so the built dist/ is what it uses), on vitest and on the official SDK.
 */
const exampleDir = join(repoRoot, 'examples', 'vitest-project');
let workDir: string;

beforeAll(() => {
  assertBuilt();
  workDir = mkdtempSync(join(tmpdir(), 'see-example-'));
});
afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('examples/vitest-project', () => {
  it('installs and passes with the vitest global setup and the official SDK', { timeout: 240_000 }, async () => {
    const project = join(workDir, 'vitest-project');
    cpSync(exampleDir, project, { recursive: true, filter: (src) => !src.includes('node_modules') });
    // `file:../..` means this repo from its place in examples/; the copy lives elsewhere.
    const manifestPath = join(project, 'package.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    expect(manifest.devDependencies['sandbox-egress-emulator']).toBe('file:../..');
    manifest.devDependencies['sandbox-egress-emulator'] = `file:${repoRoot}`;
    writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));

    const install = await execa('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: project, reject: false, timeout: 180_000 });
    expect(install.exitCode, install.stderr).toBe(0);

    // A clean environment: the example must find the emulator through its global setup alone.
    // Nor may this run's own vitest variables leak into the nested one.
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && !k.startsWith('SANDBOX0_')));
    const env = { ...inherited, CI: 'true', NO_COLOR: '1', FORCE_COLOR: '0' };
    const run = await execa('npm', ['test'], { cwd: project, reject: false, env, extendEnv: false, timeout: 120_000, all: true });
    const output = run.all.replace(/\u001b\[[0-9;]*m/g, '');
    expect(run.exitCode, output).toBe(0);
    expect(output).toMatch(/Test Files +2 passed \(2\)/);
    expect(output).toMatch(/Tests +2 passed \(2\)/);
  });
});
