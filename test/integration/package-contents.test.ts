import { execa } from 'execa';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, binPath, repoRoot } from '../helpers/bin.js';

/** The build leaves an executable, silent bin; the package ships what the README links to. */
let dir = '';
beforeAll(() => {
  assertBuilt();
  dir = mkdtempSync(join(tmpdir(), 'see-pkg-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('build', () => {
  it('bundles the bin silently (npm pack --json runs it through prepack) and makes it executable', { timeout: 120_000 }, async () => {
    const r = await execa('node', ['scripts/build-bin.mjs', join(dir, 'bin')], { cwd: repoRoot });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('');
    expect(statSync(join(dir, 'bin', 'main.js')).mode & 0o111).toBe(0o111);
    expect(statSync(binPath).mode & 0o111).toBe(0o111);
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.build).toBe('rm -rf dist && tsc -p tsconfig.build.json && node scripts/build-bin.mjs');
    expect(pkg.scripts.prepack).toBe('npm run build');
  });

  it('bundles the dependencies except the native better-sqlite3 (start-up: BENCHMARKS.md, "Bin bundle shape")', () => {
    const bin = join(dir, 'bin');
    const code = readdirSync(bin).map((f) => readFileSync(join(bin, f), 'utf8')).join('\n');
    const imported = new Set([...code.matchAll(/(?:from |import\()"([^".][^"]*)"/g)].map((m) => m[1]!.replace(/^((?:@[^/]+\/)?[^/]+).*$/, '$1')));
    expect([...imported].filter((name) => !name.startsWith('node:'))).toEqual(['better-sqlite3']);
    // rolldown names every module it inlines in a `// <path>` comment: hono and zod are in.
    expect(code).toMatch(/^\/\/ node_modules\/hono\//m);
    expect(code).toMatch(/^\/\/ node_modules\/zod\//m);
  });

  it('ships the worker thread and the namespace helper as files next to the code that starts them', () => {
    for (const file of ['wal-checkpoint-worker.js', 'helper-process.js']) {
      expect(readdirSync(join(dir, 'bin')), file).toContain(file);
      expect(readdirSync(join(repoRoot, 'dist', 'bin')), file).toContain(file);
    }
    expect(readdirSync(join(repoRoot, 'dist', 'store'))).toContain('wal-checkpoint-worker.js');
    expect(readdirSync(join(repoRoot, 'dist', 'interception', 'transparent'))).toContain('helper-process.js');
  });
});

describe('npm package contents', () => {
  it('ships examples/ and BENCHMARKS.md, and every relative README link points at a shipped file', { timeout: 120_000 }, async () => {
    const packed = await execa('npm', ['pack', '--dry-run', '--ignore-scripts', '--json'], { cwd: repoRoot });
    const [{ files }] = JSON.parse(packed.stdout) as [{ files: { path: string }[] }];
    const paths = files.map((f) => f.path);
    expect(paths).toEqual(expect.arrayContaining(['BENCHMARKS.md', 'examples/walkthrough.mjs', 'examples/walkthrough.mts', 'examples/vitest-project/package.json', 'dist/vitest-tenant.js']));
    expect(paths.some((p) => p.includes('node_modules'))).toBe(false);
    // Source maps would point at src/, which is not shipped: there are none.
    expect(paths.filter((p) => p.endsWith('.map'))).toEqual([]);
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)].map((m) => m[1]!).filter((l) => !/^[a-z]+:/.test(l));
    expect(links.length).toBeGreaterThanOrEqual(4);
    for (const link of links) {
      const target = link.replace(/\/$/, '');
      expect(paths.some((p) => p === target || p.startsWith(`${target}/`)), `README links to ${link}, which the package does not ship`).toBe(true);
    }
  });
});
