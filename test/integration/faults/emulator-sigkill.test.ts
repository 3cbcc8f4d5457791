import BetterSqlite3 from 'better-sqlite3';
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls, { type TLSSocket } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator.js';
import { fixtureCaCertPath } from '../../../src/test-proxy/customer-services.js';
import { databaseFile } from '../../../src/store/db.js';
import { assertBuilt, binPath, waitForOutput } from '../../helpers/bin.js';
import { createDocsSandbox } from '../../helpers/docs-policy.js';
import { api } from '../../helpers/emulator.js';
import { clientHello, httpsGet, sendAndCollect, viaIngress } from '../../helpers/sandbox-client.js';

/**
 * The emulator (built bin, a data dir) SIGKILLed while a sandbox has a flow open, then started again on
 * the same data dir: sandboxes, policies, credential sources and audit events are intact, the database
 * passes its integrity check, the sandbox's open connection ended, and the sandbox works again.
 */
const dir = mkdtempSync(join(tmpdir(), 'see-sigkill-'));
const dataDir = join(dir, 'data');
const running: Emulator[] = [];
afterAll(async () => {
  for (const e of running.splice(0)) await e.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function startBin() {
  assertBuilt();
  const readyFile = join(dir, 'ready.json');
  const child = execa('node', [binPath, 'start', '--data-dir', dataDir, '--port', '0', '--interception', 'explicit', '--ready-file', readyFile, '--log-level', 'silent'], { reject: false });
  try {
    await waitForOutput(child, 'SANDBOX0_TOKEN=', 30_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const ready = JSON.parse(readFileSync(readyFile, 'utf8')) as { apiUrl: string; token: string };
  return { child, ready };
}

/** An idle TLS connection to the internal API, kept open through the sandbox's ingress. */
function openTls(socket: import('node:net').Socket): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const t = tls.connect({ socket, servername: 'api.internal.example.com', ca: readFileSync(fixtureCaCertPath) }, () => resolve(t));
    t.once('error', reject);
  });
}

/** The parts of an audit event read here. */
interface Flow {
  event_id: string;
  phase: string;
  outcome: string;
  producer: { instance: string };
  attributes: { flow_id: string };
}

const ended = (s: TLSSocket): Promise<void> => (s.destroyed ? Promise.resolve() : new Promise((r) => s.once('close', () => r())));

describe('SIGKILL of an emulator with a data dir', () => {
  it('keeps sandboxes, policies, credential sources and audit events; the open flow ended for the sandbox', async () => {
    const first = await startBin();
    try {
      const c1 = api(() => ({ apiUrl: first.ready.apiUrl, token: first.ready.token }) as Emulator);
      const id = await createDocsSandbox(c1);
      const policy = (await c1.get(`/api/v1/sandboxes/${id}/network`)).json.data;
      const ingress = (await c1.get(`/_emulator/sandboxes/${id}`)).json.data.ingress.socks5 as string;

      // A finished flow, a denied one, and one left open when the emulator dies.
      expect((await httpsGet(await viaIngress(ingress, 'api.internal.example.com', 443), 'api.internal.example.com', '/before-kill')).status).toBe(200);
      expect((await sendAndCollect(await viaIngress(ingress, '198.18.0.99', 443), await clientHello('evil.example.net'))).received.length).toBe(0);
      const open = await openTls(await viaIngress(ingress, 'api.internal.example.com', 443));
      open.on('error', () => {});
      const openEnded = ended(open);

      // The open flow's attempt is written before dialling; the other two have their results.
      let before: Flow[] = [];
      for (let i = 0; i < 100 && before.length < 4; i++) {
        before = (await c1.get(`/_emulator/flows?sandbox=${id}`)).json.data.events;
      }
      // (The finished flow's outcome is not asserted: a cold gateway sometimes records the sandbox's
      // TLS close_notify after the server's close as a relay error, "upstream EPIPE" — reported.)
      expect(before.map((e) => `${e.phase}:${e.phase === 'attempt' || e.outcome === 'denied' ? e.outcome : 'ended'}`).sort()).toEqual(['attempt:accepted', 'attempt:accepted', 'result:denied', 'result:ended']);

      first.child.kill('SIGKILL');
      expect((await first.child).signal).toBe('SIGKILL');
      await openEnded; // the kernel closed the dead process's sockets: the sandbox sees the end

      // Nothing is corrupt, even without a clean close of the WAL.
      const db = new BetterSqlite3(join(dataDir, databaseFile), { readonly: true });
      try {
        expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      } finally {
        db.close();
      }

      const second = await startEmulator({ ephemeral: false, dataDir, port: 0, env: {} });
      running.push(second);
      expect(second.token).toBe(first.ready.token); // the generated token is kept in the data dir
      const c2 = api(() => second);
      expect((await c2.get(`/api/v1/sandboxes/${id}`)).json.data).toMatchObject({ id, status: 'running' });
      expect((await c2.get(`/api/v1/sandboxes/${id}/network`)).json.data).toEqual(policy);
      expect((await c2.get('/api/v1/credential-sources/src')).json.data).toMatchObject({ name: 'src', currentVersion: 1 });
      const after = (await c2.get(`/_emulator/flows?sandbox=${id}`)).json.data.events as { event_id: string }[];
      expect(after.map((e) => e.event_id).slice(0, before.length)).toEqual(before.map((e) => e.event_id));
      // The flow that was open at the kill keeps its attempt and has no result: the process that would
      // have written it is gone (as on the platform, where a killed ctld loses the flow's result).
      // (Flow ids restart at tcp-1 in each process; the producer instance tells them apart.)
      const open1 = before.filter((e) => e.phase === 'attempt').at(-1)!;
      const sameFlow = (e: Flow) => e.attributes.flow_id === open1.attributes.flow_id && e.producer.instance === open1.producer.instance;
      expect((after as Flow[]).filter(sameFlow).map((e) => e.phase)).toEqual(['attempt']);

      // The sandbox is attached again (a new ingress port) and its policy still routes through the proxy.
      const ingress2 = (await c2.get(`/_emulator/sandboxes/${id}`)).json.data.ingress.socks5 as string;
      expect((await httpsGet(await viaIngress(ingress2, 'api.internal.example.com', 443), 'api.internal.example.com', '/after-restart')).status).toBe(200);
      expect(second.proxy!.connections.list()[0]).toMatchObject({ host: 'api.internal.example.com', user: 'proxy-user' });
    } finally {
      first.child.kill('SIGKILL');
    }
  });
});
