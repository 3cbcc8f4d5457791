import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const script = path.join(root, 'scripts/check-structure.mjs');

describe('structure check (scripts/check-structure.mjs)', () => {
  it('finds no function in src/ over 80 lines outside its listed exceptions', async () => {
    const result = await promisify(execFile)(process.execPath, [script], { cwd: root }).catch((err: { code: number; stderr: string }) => err);
    expect('stderr' in result ? result.stderr : '').not.toMatch(/lines \(max/);
    expect('code' in result ? result.code : 0).toBe(0);
  });

  it('fails on a function over the limit', async () => {
    const { longFunctions, EXCEPTIONS } = (await import(script)) as {
      longFunctions: (base: string, dir: string, max: number) => { key: string; lines: number }[];
      EXCEPTIONS: Map<string, string>;
    };
    // With a tiny limit, functions outside the exception list are found (the check can fail).
    const long = longFunctions(root, 'src/go', 3);
    expect(long.length).toBeGreaterThan(0);
    expect(long.every((f) => f.lines > 3 && f.key.startsWith('src/go/'))).toBe(true);
    for (const reason of EXCEPTIONS.values()) expect(reason).not.toBe('');
  });
});
