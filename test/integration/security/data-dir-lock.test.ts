import { execa, type ResultPromise } from 'execa';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../../../src/emulator.js';
import { lockFileName } from '../../../src/store/data-dir-lock.js';
import { assertBuilt, binPath, waitForOutput } from '../../helpers/bin.js';

/** Two emulators on one data dir (finding 8): the second start fails and names the first. */
const dirs: string[] = [];
const children: ResultPromise[] = [];
const temp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'see-lock-'));
  dirs.push(d);
  return d;
};
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.pid) child.kill('SIGKILL');
    await child.catch(() => undefined);
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
beforeAll(() => assertBuilt());

const startCli = (dataDir: string, readyFile: string): ResultPromise => {
  const child = execa('node', [binPath, 'start', '--data-dir', dataDir, '--port', '0', '--ready-file', readyFile, '--log-level', 'silent', '--interception', 'explicit'], {
    reject: false,
    env: { SANDBOX0_TOKEN: '' },
  });
  children.push(child);
  return child;
};

describe('an exclusive lock on the data dir', () => {
  it('a second start on the same data dir fails naming the running one\'s pid and API URL; a dead owner\'s lock is taken over', async () => {
    const dir = temp();
    const dataDir = join(dir, 'data');
    const first = startCli(dataDir, join(dir, 'first.json'));
    await waitForOutput(first, 'API');
    const ready = JSON.parse(readFileSync(join(dir, 'first.json'), 'utf8')) as { apiUrl: string; pid: number };

    const second = await execa('node', [binPath, 'start', '--data-dir', dataDir, '--port', '0', '--log-level', 'silent', '--interception', 'explicit'], { reject: false, timeout: 20_000 });
    expect(second.exitCode).not.toBe(0);
    expect(second.stderr).toContain(`pid ${first.pid}`);
    expect(second.stderr).toContain(ready.apiUrl);
    // The first one is untouched and still serves.
    expect((await fetch(`${ready.apiUrl}/healthz`)).status).toBe(200);

    // Killed without a chance to clean up: its lock is stale and the next start takes it over.
    first.kill('SIGKILL');
    await first;
    expect(existsSync(join(dataDir, lockFileName))).toBe(true);
    const third = startCli(dataDir, join(dir, 'third.json'));
    await waitForOutput(third, 'API');
    const lock = JSON.parse(readFileSync(join(dataDir, lockFileName), 'utf8')) as { pid: number; apiUrl: string };
    expect(lock.pid).toBe(third.pid);
    expect(lock.apiUrl).toBe((JSON.parse(readFileSync(join(dir, 'third.json'), 'utf8')) as { apiUrl: string }).apiUrl);
    third.kill('SIGTERM');
    expect((await third).exitCode).toBe(0);
    expect(existsSync(join(dataDir, lockFileName))).toBe(false);
  });

  it('in the library too, and not for ephemeral emulators', async () => {
    const dataDir = temp();
    const a = await startEmulator({ ephemeral: false, dataDir, port: 0, token: 't' });
    try {
      await expect(startEmulator({ ephemeral: false, dataDir, port: 0, token: 't' })).rejects.toThrow(`data dir ${dataDir} is in use by another emulator (pid ${process.pid}, API ${a.apiUrl})`);
      const b = await startEmulator({ ephemeral: true, port: 0, token: 't' });
      const c = await startEmulator({ ephemeral: true, port: 0, token: 't' });
      await Promise.all([b.stop(), c.stop()]);
    } finally {
      await a.stop();
    }
    const again = await startEmulator({ ephemeral: false, dataDir, port: 0, token: 't' });
    await again.stop();
  });
});
