import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRootNamespaceBackend, type RootNamespaceBackend } from '../../../src/interception/transparent/root-backend.js';
import { defaultStateDir } from '../../../src/interception/transparent/instance-state.js';
import { ourEtcNetns, ourHostLinks, ourNamespaces, transparentUnavailable } from '../../helpers/netns.js';

/**
 * Lifecycle: a process owning namespaces is SIGKILLed and the next instance reaps what it left;
 * SIGTERM cleans up; two instances side by side never collide.
 */

const skip = transparentUnavailable();

interface OwnerReport {
  instanceId: string;
  gateway: string;
  sandbox: string;
  pids: { helper?: number; conntrack?: number; sleeper?: number };
}

const isAlive = (pid: number | undefined): boolean => {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Processes killed by SIGKILL disappear asynchronously: poll, bounded. */
async function waitGone(pid: number | undefined, { attempts = 100, intervalMs = 20 } = {}): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    if (!isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return !isAlive(pid);
}

describe.skipIf(skip)('namespace lifecycle', () => {
  let bundleDir: string;
  let ownerScript: string;
  const children: ChildProcess[] = [];
  const backends: RootNamespaceBackend[] = [];

  beforeAll(async () => {
    // The owner is a real separate process running the real backend: bundled from TypeScript here.
    bundleDir = mkdtempSync(join(tmpdir(), 'see-owner-'));
    ownerScript = join(bundleDir, 'owner.mjs');
    await build({
      input: fileURLToPath(new URL('./fixtures/owner-process.ts', import.meta.url)),
      platform: 'node',
      output: { file: ownerScript, format: 'esm' },
      logLevel: 'silent',
    });
    // The backend starts its namespace helper from the file next to its own code (`./helper-process.js`).
    copyFileSync(fileURLToPath(new URL('../../../src/interception/transparent/helper-process.js', import.meta.url)), join(bundleDir, 'helper-process.js'));
  });

  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all(backends.splice(0).map((b) => b.stop()));
  });

  afterAll(() => {
    if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
  });

  async function startOwner(mode: 'crash' | 'cleanup'): Promise<{ child: ChildProcess; report: OwnerReport }> {
    const child = spawn(process.execPath, [ownerScript, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    const lines = createInterface({ input: child.stdout! });
    const [line] = (await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => [undefined])])) as [string | undefined];
    lines.close();
    if (!line) throw new Error('owner process exited before reporting');
    return { child, report: JSON.parse(line) as OwnerReport };
  }

  it('a new instance reaps the namespaces, processes and files of a SIGKILLed one', async () => {
    const { child, report } = await startOwner('crash');
    expect(ourNamespaces(report.instanceId).sort()).toEqual([report.gateway, report.sandbox].sort());
    child.kill('SIGKILL');
    await once(child, 'exit');
    // The crash left the namespaces and the sandbox's command behind.
    expect(ourNamespaces(report.instanceId).length).toBeGreaterThan(0);
    expect(isAlive(report.pids.sleeper)).toBe(true);

    const next = createRootNamespaceBackend({ dns: { lookup: () => undefined } });
    backends.push(next);
    await next.start();
    expect(ourNamespaces(report.instanceId)).toEqual([]);
    expect(ourEtcNetns(report.instanceId)).toEqual([]);
    expect(ourHostLinks(report.instanceId)).toEqual([]);
    expect(existsSync(join(defaultStateDir, `${report.instanceId}.json`))).toBe(false);
    for (const pid of Object.values(report.pids)) expect(await waitGone(pid)).toBe(true);
    // The new instance itself is untouched.
    expect(ourNamespaces(next.instanceId)).toEqual([next.gatewayNamespace]);
  });

  it('SIGTERM of the owning process leaves nothing behind', async () => {
    const { child, report } = await startOwner('cleanup');
    child.kill('SIGTERM');
    const [, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    expect(signal).toBe('SIGTERM'); // the default behaviour is kept after cleaning up
    expect(ourNamespaces(report.instanceId)).toEqual([]);
    expect(ourEtcNetns(report.instanceId)).toEqual([]);
    expect(existsSync(join(defaultStateDir, `${report.instanceId}.json`))).toBe(false);
    for (const pid of [report.pids.helper, report.pids.conntrack]) expect(await waitGone(pid)).toBe(true);
  });

  it('two instances side by side keep their own names, addresses and flows', async () => {
    const make = (): RootNamespaceBackend => {
      const b = createRootNamespaceBackend({ dns: { lookup: () => undefined } });
      backends.push(b);
      return b;
    };
    const [a, b] = [make(), make()];
    await Promise.all([a.start(), b.start()]);
    expect(a.instanceId).not.toBe(b.instanceId);
    const [na, nb] = await Promise.all([a.createSandbox('same-id'), b.createSandbox('same-id')]);
    expect(na.namespace).not.toBe(nb.namespace);

    const seen = { a: [] as string[], b: [] as string[] };
    const consume = (backend: RootNamespaceBackend, into: string[]): void => {
      backend.tcpServer.on('connection', (socket: net.Socket) => {
        socket.on('error', () => socket.destroy());
        void backend.originalDestination(socket).then((d) => {
          into.push(`${backend.sandboxForAddress(socket.remoteAddress ?? '')} ${d?.ip}:${d?.port}`);
          socket.end('ok\n');
        });
      });
    };
    consume(a, seen.a);
    consume(b, seen.b);
    const client = (port: number): string[] => [
      process.execPath,
      '-e',
      `const s=require('net').connect(${port},'198.18.9.9');s.on('data',d=>process.stdout.write(d));s.on('error',e=>{console.error(e.message);process.exit(2)})`,
    ];
    const [ra, rb] = await Promise.all([a.exec('same-id', client(443), { timeoutMs: 5000 }), b.exec('same-id', client(444), { timeoutMs: 5000 })]);
    expect([ra.stdout, rb.stdout]).toEqual(['ok\n', 'ok\n']);
    expect(seen).toEqual({ a: ['same-id 198.18.9.9:443'], b: ['same-id 198.18.9.9:444'] });

    await a.stop();
    expect(ourNamespaces(a.instanceId)).toEqual([]);
    expect(ourNamespaces(b.instanceId).sort()).toEqual([b.gatewayNamespace, nb.namespace].sort());
  });
});
