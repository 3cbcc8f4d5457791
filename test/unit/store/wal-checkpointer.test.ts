import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { databaseFile, openStore, type Store } from '../../../src/store/db.js';
import type { CheckpointResult } from '../../../src/store/wal-checkpointer.js';

const dirs: string[] = [];
const stores: Store[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function open(): { store: Store; wal: string } {
  const dataDir = mkdtempSync(join(tmpdir(), 'see-wal-'));
  dirs.push(dataDir);
  const store = openStore({ kind: 'dir', dataDir }, { checkpointIntervalMs: 20 });
  stores.push(store);
  store.db.exec('CREATE TABLE scratch (v BLOB)');
  return { store, wal: join(dataDir, `${databaseFile}-wal`) };
}

/** About `pages` 4 KiB pages of new WAL frames, in one transaction. */
function write(store: Store, pages: number): void {
  const insert = store.db.prepare('INSERT INTO scratch (v) VALUES (randomblob(3500))');
  store.transaction(() => {
    for (let i = 0; i < pages; i++) insert.run();
  });
}

/** A checkpoint begun after now that copied every frame the WAL holds (bounded: the test's timeout). */
async function fullCheckpoint(store: Store): Promise<CheckpointResult> {
  const after = Date.now();
  for (;;) {
    const [r] = (await once(store.checkpointer!.events, 'checkpoint')) as [CheckpointResult];
    if (r.startedAt > after && !r.busy && r.error === undefined && r.logFrames > 0 && r.checkpointedFrames === r.logFrames) return r;
  }
}

describe('WAL checkpoints on a worker thread (data dir)', () => {
  it('turns automatic checkpoints off on the event loop connection', () => {
    const { store } = open();
    expect(store.db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    expect(store.checkpointer).toBeDefined();
  });

  it('copies the WAL back so it is reused: the file stays the size of one burst, not the sum', async () => {
    const { store, wal } = open();
    write(store, 300);
    await fullCheckpoint(store);
    const afterFirst = statSync(wal).size;
    expect(afterFirst).toBeGreaterThan(300 * 3500);
    for (let round = 0; round < 8; round++) {
      write(store, 300);
      await fullCheckpoint(store);
    }
    // Without checkpoints the WAL would hold all nine bursts (~9x); reused, it stays about one.
    expect(statSync(wal).size).toBeLessThan(afterFirst * 2);
    expect(store.db.prepare('SELECT count(*) AS n FROM scratch').get()).toEqual({ n: 2700 });
  }, 20_000);

  it('close() resolves once the thread is done, leaving no WAL behind', async () => {
    const { store, wal } = open();
    write(store, 100);
    stores.splice(stores.indexOf(store), 1);
    await store.close();
    expect(store.db.open).toBe(false);
    expect(!existsSync(wal) || statSync(wal).size === 0).toBe(true);
  });

  it('an in-memory store has no checkpoint thread', async () => {
    const store = openStore({ kind: 'memory' });
    expect(store.checkpointer).toBeUndefined();
    await store.close();
  });
});
