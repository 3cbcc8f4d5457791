import { execa, type ResultPromise } from 'execa';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, binPath, waitForOutput } from '../../helpers/bin.js';

/**
 * Where the built bin's API listens: loopback unless --host says otherwise, and a warning when it
 * does (a loopback --host such as 127.0.0.2 or ::1 is not warned about).
 */
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
beforeAll(() => assertBuilt());

const warning = 'the API listens beyond loopback';

interface Started {
  child: ResultPromise;
  ready: { apiUrl: string; token: string; ports: { api: number } };
  banner: string;
}

/** `start` on port 0 in memory; resolves once the banner is out (the ready file is written before it). */
async function start(extra: string[]): Promise<Started> {
  const dir = mkdtempSync(join(tmpdir(), 'see-listen-'));
  dirs.push(dir);
  const readyFile = join(dir, 'ready.json');
  const child = execa('node', [binPath, 'start', '--ephemeral', '--port', '0', '--no-test-proxy', '--ready-file', readyFile, '--log-level', 'info', ...extra], { reject: false });
  try {
    const banner = await waitForOutput(child, 'SANDBOX0_TOKEN=');
    return { child, banner, ready: JSON.parse(readFileSync(readyFile, 'utf8')) };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}

/** SIGTERM (at once: the banner means ready, signals included), then everything the process logged (pino JSON lines on stderr). */
async function stop({ child }: Started): Promise<{ exitCode?: number; logs: { level: number; msg: string; host?: string }[] }> {
  child.kill('SIGTERM');
  const result = await child;
  const logs = String(result.stderr)
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
  return { exitCode: result.exitCode, logs };
}

/** Resolves with the connect error code, or 'connected'. */
function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

const ownIpv4 = () =>
  Object.values(networkInterfaces())
    .flat()
    .find((i) => i && !i.internal && i.family === 'IPv4')?.address;

describe('the API listen address', () => {
  it('is 127.0.0.1 by default: the banner and ready file say so, and a non-loopback local address is refused', async () => {
    const s = await start([]);
    try {
      expect(s.ready.apiUrl).toBe(`http://127.0.0.1:${s.ready.ports.api}`);
      expect(s.banner).toContain(`API          http://127.0.0.1:${s.ready.ports.api}`);
      expect((await fetch(`${s.ready.apiUrl}/healthz`)).status).toBe(200);
      const own = ownIpv4();
      if (own) expect(await tryConnect(own, s.ready.ports.api)).toBe('ECONNREFUSED');
      else process.stderr.write('[listen-address] no non-loopback IPv4 interface: the refused-connect case is not exercised\n');
      expect(await tryConnect('127.0.0.2', s.ready.ports.api)).toBe('ECONNREFUSED');
    } finally {
      const { exitCode, logs } = await stop(s);
      expect(exitCode).toBe(0);
      expect(logs.some((l) => l.msg === 'emulator listening')).toBe(true);
      expect(logs.filter((l) => l.msg.includes(warning))).toEqual([]);
    }
  });

  it('warns when --host is beyond loopback (0.0.0.0)', async () => {
    // Beyond loopback the token must be one of the user's own (issue 16, finding 9).
    const s = await start(['--host', '0.0.0.0', '--token', `s0_local_${'7c'.repeat(24)}`]);
    const { exitCode, logs } = await stop(s);
    expect(s.ready.apiUrl).toBe(`http://0.0.0.0:${s.ready.ports.api}`);
    expect(exitCode).toBe(0);
    expect(logs.filter((l) => l.msg.includes(warning))).toEqual([expect.objectContaining({ level: 40, host: '0.0.0.0' })]);
  });

  it.each([['127.0.0.2'], ['::1']])('does not warn for the loopback --host %s, and serves there', async (host) => {
    const s = await start(['--host', host]);
    try {
      expect(s.ready.apiUrl).toBe(`http://${host.includes(':') ? `[${host}]` : host}:${s.ready.ports.api}`);
      expect((await fetch(`${s.ready.apiUrl}/healthz`)).status).toBe(200);
      expect(await tryConnect('127.0.0.1', s.ready.ports.api)).toBe('ECONNREFUSED');
    } finally {
      const { exitCode, logs } = await stop(s);
      expect(exitCode).toBe(0);
      expect(logs.filter((l) => l.msg.includes(warning))).toEqual([]);
    }
  });
});

describe('readiness', () => {
  // The banner and the ready file used to come before the signal handlers: a SIGTERM sent the moment
  // they appeared could kill the process outright (about one start in six on a loaded machine).
  it('handles a SIGTERM sent the moment the banner appears: a clean stop, exit 0', async () => {
    for (let i = 0; i < 6; i++) {
      const child = execa('node', [binPath, 'start', '--ephemeral', '--port', '0', '--no-test-proxy', '--log-level', 'info'], { reject: false });
      let seen = '';
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.stdout?.on('data', (d: Buffer) => {
          seen += d.toString();
          if (!seen.includes('SANDBOX0_TOKEN=')) return;
          child.kill('SIGTERM');
          resolve();
        });
      });
      const result = await child;
      expect([result.signal, result.exitCode]).toEqual([undefined, 0]);
      expect(String(result.stderr)).toContain('"msg":"emulator stopped"');
    }
  });
});
