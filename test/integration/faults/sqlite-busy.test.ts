import BetterSqlite3, { type Database } from 'better-sqlite3';
import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator.js';
import { databaseFile } from '../../../src/store/db.js';
import { waitForOutput } from '../../helpers/bin.js';
import { createDocsSandbox } from '../../helpers/docs-policy.js';
import { api, waitForEvent } from '../../helpers/emulator.js';
import { httpsGet, viaIngress } from '../../helpers/sandbox-client.js';
import { emulatorInternals, type EmulatorInternals } from '../../../src/internals.js';

/**
 * SQLite busy (issue 8): another connection holds the database's write lock while the API writes.
 * A write waits up to the busy timeout: it succeeds when the lock is released in time, and otherwise
 * fails with a 503 `unavailable` "database is busy" (no crash, nothing half-written); reads keep
 * working (WAL); once the lock is gone every write works again and nothing written before is lost.
 */
const dir = mkdtempSync(join(tmpdir(), 'see-busy-'));
const dbPath = join(dir, databaseFile);
let emu: Emulator;
let internals: EmulatorInternals;
const c = api(() => emu);
let locker: Database | undefined;

beforeAll(async () => {
  emu = await startEmulator({ ephemeral: false, dataDir: dir, port: 0, token: 't', env: {} });
  internals = emulatorInternals(emu);
});
afterAll(async () => {
  locker?.close();
  await emu?.stop();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  if (locker?.inTransaction) locker.exec('ROLLBACK');
  locker?.close();
  locker = undefined;
  internals.store.db.pragma('busy_timeout = 5000');
});

/** Takes the database's write lock from another connection (in WAL mode, EXCLUSIVE still lets readers in). */
function lockDatabase(): Database {
  locker = new BetterSqlite3(dbPath);
  locker.exec('BEGIN EXCLUSIVE');
  return locker;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

describe('SQLite busy', () => {
  it('waits for the busy timeout (5 s by default)', () => {
    expect(internals.store.db.pragma('busy_timeout', { simple: true })).toBe(5000);
  });

  it('a write while another connection holds the lock fails after the busy timeout with 503 "database is busy"; reads still work; afterwards all is well', async () => {
    const id = await createDocsSandbox(c);
    const policy = (await c.get(`/api/v1/sandboxes/${id}/network`)).json.data;
    internals.store.db.pragma('busy_timeout = 300'); // keeps the test quick; the default is 5 s
    lockDatabase();

    const claim = await timed(() => c.post('/api/v1/sandboxes', { template: 'default' }));
    expect(claim.value.status).toBe(503);
    expect(claim.value.json).toEqual({ success: false, error: { code: 'unavailable', message: 'database is busy, try again' } });
    expect(claim.ms).toBeGreaterThanOrEqual(250);
    expect(claim.ms).toBeLessThan(3_000);
    const create = await c.post('/api/v1/credential-sources', { name: 'other', resolverKind: 'static_headers', spec: { staticHeaders: { values: { a: 'b' } } } });
    expect(create.json.error).toEqual({ code: 'unavailable', message: 'database is busy, try again' });
    const put = await c.put(`/api/v1/sandboxes/${id}/network`, { ...policy, mode: 'allow-all' });
    expect(put.status).toBe(503);
    const del = await c.delete(`/api/v1/sandboxes/${id}`);
    expect(del.status).toBe(503);

    // A reset that cannot clear the store deletes nothing and leaves the sandbox reachable.
    expect((await c.post('/_emulator/reset')).json.error).toEqual({ code: 'unavailable', message: 'database is busy, try again' });
    expect(emu.sandbox(id).view()?.ingress?.socks5).toBeDefined();

    // Reads are not blocked by a writer in WAL mode.
    expect((await c.get('/api/v1/sandboxes')).json.data.count).toBe(1);
    expect((await c.get(`/api/v1/sandboxes/${id}/network`)).json.data).toEqual(policy);
    expect((await c.get('/readyz')).status).toBe(200);

    locker!.exec('ROLLBACK');
    // Nothing was half-written, nothing before was lost, and writes work again.
    expect((await c.get('/api/v1/sandboxes')).json.data.count).toBe(1);
    expect((await c.get('/api/v1/credential-sources/other')).status).toBe(404);
    expect((await c.get(`/api/v1/sandboxes/${id}/network`)).json.data).toEqual(policy);
    expect((await c.post('/api/v1/sandboxes', { template: 'default' })).status).toBe(201);
    expect((await c.put(`/api/v1/sandboxes/${id}/network`, { ...policy, mode: 'allow-all' })).json.data.mode).toBe('allow-all');
    expect((await c.get('/api/v1/sandboxes')).json.data.count).toBe(2);
    expect(internals.store.db.pragma('integrity_check', { simple: true })).toBe('ok');
  });

  /** Another process takes the write lock, changes the database (so earlier read snapshots are stale), and commits after `holdMs`. */
  async function holdLockElsewhere(holdMs: number) {
    const script = [
      `const db=new (require('better-sqlite3'))(${JSON.stringify(dbPath)});`,
      `db.exec('BEGIN EXCLUSIVE');`,
      `db.prepare("INSERT INTO credential_sources (team_id,name,resolver_kind,current_version,created_at,updated_at) VALUES ('zz-other-writer','zz','static_headers',1,'','')").run();`,
      `db.prepare("DELETE FROM credential_sources WHERE team_id='zz-other-writer'").run();`,
      `console.log('locked');`,
      `setTimeout(()=>{db.exec('COMMIT');console.log('committed '+Date.now());db.close()},${holdMs});`,
    ].join('');
    // The emulator waits synchronously (better-sqlite3), so the lock must live in another process.
    const holder = execa('node', ['-e', script], { cwd: process.cwd(), reject: false });
    try {
      await waitForOutput(holder, 'locked');
    } catch (err) {
      holder.kill('SIGKILL');
      throw err;
    }
    return { holder }; // (a bare subprocess is thenable: awaiting it would wait for its exit)
  }

  const committedAt = (r: { exitCode?: number; stdout?: unknown }): number => {
    expect(r.exitCode).toBe(0);
    const m = /committed (\d+)/.exec(String(r.stdout));
    if (!m) throw new Error(`the lock holder did not commit: ${String(r.stdout)}`);
    return Number(m[1]);
  };

  it('a write waits while the lock is held by another process and succeeds once it is released within the busy timeout', async () => {
    const { holder } = await holdLockElsewhere(1000);
    try {
      const sent = Date.now();
      const claim = await c.post('/api/v1/sandboxes', { template: 'default' });
      const answered = Date.now();
      expect(claim.status).toBe(201);
      // The request came while the lock was held and was answered after the other process committed.
      const committed = committedAt(await holder);
      expect(sent).toBeLessThan(committed);
      expect(answered).toBeGreaterThanOrEqual(committed);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('so does a transaction that reads before it writes, although the other writer changed the database meanwhile', async () => {
    // A deferred transaction would read a snapshot first and then fail at once with SQLITE_BUSY_SNAPSHOT
    // when it tries to write after the other commit; transactions begin IMMEDIATE to wait instead.
    const { holder } = await holdLockElsewhere(1000);
    try {
      const sent = Date.now();
      const create = await c.post('/api/v1/credential-sources', { name: 'read-then-write', resolverKind: 'static_headers', spec: { staticHeaders: { values: { a: 'b' } } } });
      expect(create.json).toMatchObject({ success: true });
      expect(sent).toBeLessThan(committedAt(await holder));
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('a flow while the database is locked still reaches the service; flows after the lock are audited', async () => {
    await c.post('/_emulator/reset');
    const id = await createDocsSandbox(c);
    const ingress = emu.sandbox(id).view()!.ingress!.socks5;
    internals.store.db.pragma('busy_timeout = 100');
    lockDatabase();
    expect((await httpsGet(await viaIngress(ingress, 'api.internal.example.com', 443), 'api.internal.example.com', '/while-locked')).status).toBe(200);
    locker!.exec('ROLLBACK');
    expect((await httpsGet(await viaIngress(ingress, 'api.internal.example.com', 443), 'api.internal.example.com', '/after')).status).toBe(200);
    const after = await waitForEvent(emu, (e) => e.sandbox_id === id && e.phase === 'result');
    expect(after.attributes.host).toBe('api.internal.example.com');
  });
});
