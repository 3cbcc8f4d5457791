import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assertBuilt, binPath, waitForOutput } from '../../helpers/bin.js';
import { ourNamespaces, transparentUnavailable } from '../../helpers/netns.js';

/** The emulator (built bin, transparent mode) killed with SIGKILL leaves namespaces that the next start reaps. */
const skip = transparentUnavailable();
const dir = mkdtempSync(join(tmpdir(), 'see-kill-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function startBin(name: string) {
  assertBuilt();
  const readyFile = join(dir, `${name}.json`);
  const child = execa('node', [binPath, 'start', '--ephemeral', '--port', '0', '--interception', 'transparent', '--ready-file', readyFile, '--log-level', 'silent'], { reject: false, env: { SEE_INTERCEPTION: '' } });
  await waitForOutput(child, 'SANDBOX0_TOKEN=', 30_000);
  const ready = JSON.parse(readFileSync(readyFile, 'utf8')) as { apiUrl: string; token: string; interception: { mode: string } };
  return { child, ready };
}

describe.skipIf(skip)('SIGKILL of a transparent emulator', () => {
  it('leaves namespaces that the next start reaps; SIGTERM leaves nothing', async () => {
    const before = new Set(ourNamespaces());
    const first = await startBin('first');
    let second: Awaited<ReturnType<typeof startBin>> | undefined;
    try {
      expect(first.ready.interception.mode).toBe('transparent');
      const res = await fetch(`${first.ready.apiUrl}/api/v1/sandboxes`, { method: 'POST', headers: { authorization: `Bearer ${first.ready.token}` }, body: '{"template":"default"}' });
      expect(res.status).toBe(201);
      const created = ourNamespaces().filter((n) => !before.has(n));
      expect(created.length).toBeGreaterThanOrEqual(2); // the gateway and the sandbox
      first.child.kill('SIGKILL');
      await first.child;
      expect(ourNamespaces().filter((n) => created.includes(n))).toEqual(created); // left behind by the kill

      second = await startBin('second');
      expect(ourNamespaces().filter((n) => created.includes(n))).toEqual([]); // reaped at start
      second.child.kill('SIGTERM');
      expect((await second.child).exitCode).toBe(0);
      expect(ourNamespaces().filter((n) => !before.has(n))).toEqual([]);
    } finally {
      first.child.kill('SIGKILL');
      second?.child.kill('SIGKILL');
    }
  }, 90_000);
});
