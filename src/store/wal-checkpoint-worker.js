// @ts-check
// The WAL checkpoint worker thread (started by wal-checkpointer.ts). Plain JavaScript so that
// `new Worker(url)` runs it as it is from src/ (vitest) as well as from dist/ and dist/bin/.
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

/** @typedef {{ file: string, intervalMs: number }} WalWorkerData */
/** @typedef {{ busy: number, log: number, checkpointed: number }} CheckpointRow */

const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
const { file, intervalMs } = /** @type {WalWorkerData} */ (workerData);
const db = new Database(file, { fileMustExist: true });
// Checkpoints stream pages; a large page cache on this connection would only hold memory.
db.pragma('cache_size = -1024');

function checkpoint() {
  const startedAt = Date.now();
  try {
    const row = /** @type {CheckpointRow[]} */ (db.pragma('wal_checkpoint(PASSIVE)'))[0];
    if (!row) throw new Error('wal_checkpoint returned no row');
    port.postMessage({ kind: 'checkpoint', busy: row.busy === 1, logFrames: row.log, checkpointedFrames: row.checkpointed, startedAt });
  } catch (err) {
    const error = String((err instanceof Error && err.message) || err);
    port.postMessage({ kind: 'checkpoint', busy: false, logFrames: -1, checkpointedFrames: -1, error, startedAt });
  }
}

const timer = setInterval(checkpoint, intervalMs);
port.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  checkpoint();
  db.close();
  port.close();
});
