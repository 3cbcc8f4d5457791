import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, binPath, repoRoot, waitForOutput } from '../../helpers/bin.js';

/**
 * The web view's static files are found wherever the code runs from: the bundled bin (dist/bin) as
 * well as dist/ and src/ (the other tests), and they are in the package `npm pack` makes.
 */
const dir = mkdtempSync(join(tmpdir(), 'see-web-files-'));
beforeAll(() => assertBuilt());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('web view files', () => {
  it('are served by the bundled bin', async () => {
    const readyFile = join(dir, 'ready.json');
    const child = execa('node', [binPath, 'start', '--ephemeral', '--port', '0', '--ready-file', readyFile, '--log-level', 'silent'], { reject: false });
    try {
      await waitForOutput(child, 'SANDBOX0_TOKEN=');
      const { apiUrl } = JSON.parse(readFileSync(readyFile, 'utf8')) as { apiUrl: string };
      const files = { '/': 'index.html', '/_emulator/ui': 'index.html', '/_emulator/ui/app.js': 'app.js', '/_emulator/ui/app.css': 'app.css' };
      for (const [path, file] of Object.entries(files)) {
        const res = await fetch(apiUrl + path);
        expect(res.status, path).toBe(200);
        expect(await res.text()).toBe(readFileSync(join(repoRoot, 'web', file), 'utf8'));
      }
    } finally {
      child.kill('SIGTERM');
      await child;
    }
  });

  it('are in the npm package', async () => {
    const packed = await execa('npm', ['pack', '--dry-run', '--ignore-scripts', '--json'], { cwd: repoRoot });
    const [{ files }] = JSON.parse(packed.stdout) as [{ files: { path: string }[] }];
    expect(files.map((f) => f.path)).toEqual(expect.arrayContaining(['web/index.html', 'web/app.js', 'web/app.css']));
  });
});
