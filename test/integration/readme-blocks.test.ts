import { execa } from 'execa';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, binPath, repoRoot } from '../helpers/bin.js';
import { useEmulator } from '../helpers/emulator.js';
import { runnableBlocks } from '../helpers/readme-blocks.js';

/**
 * Every README block marked `<!-- runnable -->`, and both walkthrough files, run against an emulator,
 * each as a tenant of its own, so the README cannot drift from what works. TypeScript runs as `.mts`
 * with `npx --yes tsx`, the command the README documents; shell blocks find `sandbox-egress-emulator`
 * on PATH (the built bin, which must be executable). Project-file blocks (`file=`) are run by
 * fresh-project.test.ts.
 */
const emu = useEmulator();
let dir = '';
let bin = '';
beforeAll(() => {
  assertBuilt();
  dir = mkdtempSync(join(tmpdir(), 'see-readme-'));
  // Scripts import 'sandbox0' as a user's project would: from a node_modules beside them.
  symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
  bin = join(dir, 'bin');
  mkdirSync(bin);
  symlinkSync(binPath, join(bin, 'sandbox-egress-emulator'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

type Kind = 'ts' | 'js' | 'sh';

/** Runs a script as the README says, with SANDBOX0_BASE_URL / SANDBOX0_TOKEN of a fresh tenant. */
async function runScript(kind: Kind, file: string, cwd: string) {
  const tenant = emu.current.tenant();
  const env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SANDBOX0_') && !k.startsWith('SEE_'))),
    PATH: `${bin}:${process.env.PATH}`,
    SANDBOX0_BASE_URL: tenant.apiUrl,
    SANDBOX0_TOKEN: tenant.token,
    npm_config_update_notifier: 'false',
  };
  const [cmd, args]: [string, string[]] = kind === 'ts' ? ['npx', ['--yes', 'tsx', file]] : kind === 'js' ? ['node', [file]] : ['bash', ['-euo', 'pipefail', file]];
  return execa(cmd, args, { cwd, env, extendEnv: false, reject: false, all: true, timeout: 120_000 });
}

const kindOf = (lang: string): Kind => (lang === 'ts' ? 'ts' : lang === 'js' ? 'js' : 'sh');
const extension = { ts: 'mts', js: 'mjs', sh: 'sh' } as const;
const blocks = runnableBlocks().filter((b) => !b.file);

describe('README runnable blocks', () => {
  it('marks the walkthrough and the CLI example runnable', () => {
    expect(blocks.map((b) => b.lang)).toEqual(['ts', 'sh']);
  });

  for (const block of blocks) {
    it(`the ${block.lang} block at README.md:${block.line} runs`, { timeout: 150_000 }, async () => {
      const kind = kindOf(block.lang);
      const file = join(dir, `block-${block.line}.${extension[kind]}`);
      writeFileSync(file, block.code);
      const r = await runScript(kind, file, dir);
      expect(r.exitCode, r.all).toBe(0);
    });
  }
});

describe('walkthrough files', () => {
  it.each([
    ['js', 'examples/walkthrough.mjs'],
    ['ts', 'examples/walkthrough.mts'],
  ] as const)('%s: %s passes every check, a curl after the rotation included', { timeout: 150_000 }, async (kind, path) => {
    const r = await runScript(kind, join(repoRoot, path), repoRoot);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('ok   curl after the rotation');
    expect(r.stdout).toContain('walkthrough done');
  });
});
