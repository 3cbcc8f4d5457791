import { execa } from 'execa';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assertBuilt, binPath, waitForOutput } from '../../helpers/bin.js';
import { fixtureCaCertPath } from '../../../src/test-proxy/customer-services.js';
import { docsPolicy } from '../../helpers/docs-policy.js';
import { hostNftTables, ourEtcNetns, ourHostLinks, ourNamespaces, transparentUnavailable } from '../../helpers/netns.js';

/** PIDs of the processes inside a named namespace. */
const namespacePids = (ns: string): number[] =>
  execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', timeout: 10_000 })
    .split('\n')
    .filter(Boolean)
    .map(Number);
/** The first NDJSON line of a followed stream (the subscription is live once the response headers arrived). */
async function firstFollowed(ready: { apiUrl: string; token: string }, path: string): Promise<any> {
  const abort = new AbortController();
  const res = await fetch(`${ready.apiUrl}${path}`, { headers: { authorization: `Bearer ${ready.token}` }, signal: abort.signal });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  return (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the stream ended before a line: ${text}`);
        text += decoder.decode(value, { stream: true });
        const nl = text.indexOf('\n');
        if (nl >= 0) return JSON.parse(text.slice(0, nl));
      }
    } finally {
      abort.abort();
    }
  })();
}
/** Running (not gone, not a zombie waiting for init to reap it). */
const running = (pid: number): boolean => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};
/** The PIDs still running once SIGKILLed ones had their (bounded) moment to exit. */
async function stillRunning(pids: number[]): Promise<number[]> {
  for (let i = 0; i < 100 && pids.some(running); i++) await new Promise((r) => setTimeout(r, 20));
  return pids.filter(running);
}

/**
 * The emulator (built bin, transparent mode) killed with SIGKILL leaves namespaces that the next start
 * reaps; with a data dir, the next start also brings the dead instance's sandboxes up again.
 */
const skip = transparentUnavailable();
const dir = mkdtempSync(join(tmpdir(), 'see-kill-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The built bin in transparent mode: in memory, or on `dataDir`. */
async function startBin(name: string, dataDir?: string) {
  assertBuilt();
  const readyFile = join(dir, `${name}.json`);
  const state = dataDir ? ['--data-dir', dataDir] : ['--ephemeral'];
  const child = execa('node', [binPath, 'start', ...state, '--port', '0', '--interception', 'transparent', '--ready-file', readyFile, '--log-level', 'silent'], { reject: false, env: { SEE_INTERCEPTION: '' } });
  try {
    await waitForOutput(child, 'SANDBOX0_TOKEN=', 30_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
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

  it('with a data dir and a flow open in the sandbox: the restart reaps the dead namespaces (and the process inside) and brings the same sandbox up in a new one', async () => {
    const dataDir = join(dir, 'data');
    const before = new Set(ourNamespaces());
    const first = await startBin('data-first', dataDir);
    let second: Awaited<ReturnType<typeof startBin>> | undefined;
    try {
      const call = (ready: { apiUrl: string; token: string }, method: string, path: string, body?: unknown) =>
        fetch(`${ready.apiUrl}${path}`, { method, headers: { authorization: `Bearer ${ready.token}` }, body: body === undefined ? undefined : JSON.stringify(body) }).then(async (r) => ({ status: r.status, json: (await r.json()) as any }));
      await call(first.ready, 'POST', '/api/v1/credential-sources', { name: 'src', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'proxy-user', password: 'proxy-pass' } } });
      const id = (await call(first.ready, 'POST', '/api/v1/sandboxes', { template: 'default' })).json.data.sandbox_id as string;
      expect((await call(first.ready, 'PUT', `/api/v1/sandboxes/${id}/network`, docsPolicy('src'))).status).toBe(200);
      const oldNamespace = (await call(first.ready, 'GET', `/_emulator/sandboxes/${id}`)).json.data.namespace as string;
      const created = ourNamespaces().filter((n) => !before.has(n));
      expect(created).toContain(oldNamespace);
      const oldInstance = oldNamespace.slice('see-'.length, 'see-'.length + 5);

      // A TLS connection from inside the sandbox, left open (its attempt is audited before the dial).
      // Node sends no SNI unless `servername` is given, and the docs' policy needs the name.
      const hold = `require('tls').connect({host:'api.internal.example.com',servername:'api.internal.example.com',port:443,ca:require('fs').readFileSync(${JSON.stringify(fixtureCaCertPath)})},()=>console.log('open'))`;
      const attempt = firstFollowed(first.ready, `/_emulator/flows?follow=1&sandbox=${id}&phase=attempt`);
      const ctx = await call(first.ready, 'POST', `/api/v1/sandboxes/${id}/contexts`, { type: 'cmd', cmd: { command: ['node', '-e', hold] } });
      expect(ctx.status).toBe(201);
      const late = new Promise<never>((_, reject) =>
        setTimeout(async () => reject(new Error(`no attempt within 10 s; flows: ${JSON.stringify((await call(first.ready, 'GET', '/_emulator/flows')).json.data.events.map((e: any) => e.attributes))}; context: ${JSON.stringify((await call(first.ready, 'GET', `/api/v1/sandboxes/${id}/contexts/${ctx.json.data.id}`)).json.data)}`)), 10_000).unref(),
      );
      expect((await Promise.race([attempt, late])).attributes).toMatchObject({ host: 'api.internal.example.com', outcome: 'accepted' });
      const holders = namespacePids(oldNamespace);
      expect(holders.length).toBeGreaterThan(0);

      first.child.kill('SIGKILL');
      await first.child;
      expect(ourNamespaces().filter((n) => created.includes(n)).sort()).toEqual(created.sort()); // left behind by the kill
      expect(ourHostLinks(oldInstance)).toEqual([]); // veths live in our namespaces, never in the host's

      second = await startBin('data-second', dataDir);
      expect(ourNamespaces().filter((n) => created.includes(n))).toEqual([]); // reaped at start
      expect(ourEtcNetns(oldInstance)).toEqual([]);
      expect(await stillRunning(holders)).toEqual([]); // the process holding the flow was killed with its namespace
      expect(hostNftTables()).not.toMatch(/\bsee\b/);

      // The same sandbox, its policy and its audit history are back; it runs in a new namespace.
      const view = (await call(second.ready, 'GET', `/_emulator/sandboxes/${id}`)).json.data;
      expect(view.namespace).toMatch(/^see-/);
      expect(view.namespace).not.toBe(oldNamespace);
      expect((await call(second.ready, 'GET', `/api/v1/sandboxes/${id}/network`)).json.data.egress.proxy).toMatchObject({ address: 'proxy.example.com:1080' });
      expect((await call(second.ready, 'GET', `/_emulator/flows?sandbox=${id}&phase=attempt`)).json.data.events).toHaveLength(1);
      const curl = await call(second.ready, 'POST', `/api/v1/sandboxes/${id}/contexts`, { type: 'cmd', cmd: { command: ['curl', '-sS', '--max-time', '10', '--cacert', fixtureCaCertPath, 'https://api.internal.example.com/after-restart'] }, wait_until_done: true });
      expect(curl.json.data).toMatchObject({ exit_code: 0 });
      expect(JSON.parse(curl.json.data.stdout)).toMatchObject({ path: '/after-restart' });

      second.child.kill('SIGTERM');
      expect((await second.child).exitCode).toBe(0);
      expect(ourNamespaces().filter((n) => !before.has(n))).toEqual([]);
    } finally {
      first.child.kill('SIGKILL');
      if (second && second.child.exitCode === null) {
        second.child.kill('SIGTERM'); // a clean stop removes its namespaces (and reaps the first's)
        await second.child;
      }
    }
  }, 90_000);
});
