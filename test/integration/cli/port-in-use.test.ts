import { execa } from 'execa';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, binPath } from '../../helpers/bin.js';

/** `start` on a taken port fails before it creates anything, and says what to do. */
let taken: Server;
let port = 0;
beforeAll(async () => {
  assertBuilt();
  taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  port = (taken.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((resolve) => taken.close(() => resolve())));

describe('start on a port in use', () => {
  it('exits 1 with a message that suggests --port 0, before any namespace, data dir or test proxy', async () => {
    const asRoot = process.getuid?.() === 0;
    const r = await execa('node', [binPath, 'start', '--ephemeral', '--port', String(port), '--log-level', 'debug', '--interception', asRoot ? 'transparent' : 'explicit'], {
      reject: false,
      all: true,
      timeout: 20_000,
    });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`Error: port ${port} on 127.0.0.1 is already in use (another emulator?): stop it, or pick a free port with --port 0`);
    // Nothing was started: no component logged anything (debug level), so nothing was created.
    expect(r.stderr.split('\n').filter((l) => l.startsWith('{'))).toEqual([]);
    expect(r.stdout).toBe('');
  });
});
