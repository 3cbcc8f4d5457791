import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';

/**
 * WAL checkpoints off the event loop. SQLite's automatic checkpoint runs inside the commit that
 * crosses the threshold: it copies the WAL back into the database file and fsyncs it, stalling the
 * gateway's event loop (measured: ~10 ms every few hundred audit batches, the whole p99.9 of a flush).
 * With a data dir the store turns automatic checkpoints off and this worker thread, on its own
 * connection, runs PASSIVE checkpoints (they never block the writer nor wait for it) on a timer.
 */

/** One checkpoint's result, as `PRAGMA wal_checkpoint` reports it. */
export interface CheckpointResult {
  /** SQLite could not finish because a reader or writer held a lock (PASSIVE: retried next time). */
  busy: boolean;
  /** Frames in the WAL. */
  logFrames: number;
  /** Frames copied back into the database file so far. */
  checkpointedFrames: number;
  /** SQLite refused the checkpoint (e.g. disk full); the next one tries again. */
  error?: string;
  /** When the checkpoint began (`Date.now()`): it covers every commit made before then. */
  startedAt: number;
}

export interface WalCheckpointerOptions {
  /** Time between checkpoints. */
  intervalMs?: number;
  /** Called when the worker thread dies: the caller turns automatic checkpoints back on. */
  onFailure?: (err: Error) => void;
}

export interface WalCheckpointer {
  /** Emits `checkpoint` with a `CheckpointResult` after each checkpoint. */
  readonly events: EventEmitter<{ checkpoint: [CheckpointResult] }>;
  /** Stops the worker (it runs one last checkpoint first); bounded. */
  stop(): Promise<void>;
}

export const defaultCheckpointIntervalMs = 1_000;
/** How long `stop` waits for the worker's last checkpoint before terminating it. */
const stopTimeoutMs = 5_000;

// A file of its own (plain JavaScript, next to this module in src/, dist/ and the bin's dist/bin/).
const workerUrl = new URL('./wal-checkpoint-worker.js', import.meta.url);

type WorkerMessage = { kind: 'checkpoint' } & CheckpointResult;

/** Starts checkpointing the WAL database `file` (already in WAL mode) from a worker thread. */
export function startWalCheckpointer(file: string, { intervalMs = defaultCheckpointIntervalMs, onFailure }: WalCheckpointerOptions = {}): WalCheckpointer {
  const events = new EventEmitter<{ checkpoint: [CheckpointResult] }>();
  const worker = new Worker(workerUrl, { workerData: { file, intervalMs } });
  // The worker must never keep the process alive on its own.
  worker.unref();
  let stopping = false;
  let failed = false;
  const fail = (err: Error): void => {
    if (failed || stopping) return;
    failed = true;
    onFailure?.(err);
  };
  worker.on('message', (m: WorkerMessage) => {
    const { busy, logFrames, checkpointedFrames, error, startedAt } = m;
    events.emit('checkpoint', error === undefined ? { busy, logFrames, checkpointedFrames, startedAt } : { busy, logFrames, checkpointedFrames, error, startedAt });
  });
  worker.on('error', fail);
  const exited = new Promise<void>((resolve) =>
    worker.once('exit', (code) => {
      if (!stopping) fail(new Error(`WAL checkpoint worker exited (${code})`));
      resolve();
    }),
  );
  return {
    events,
    async stop() {
      if (stopping) return exited;
      stopping = true;
      worker.postMessage('stop');
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), stopTimeoutMs);
      });
      const how = await Promise.race([exited, timedOut]);
      clearTimeout(timer);
      if (how === 'timeout') await worker.terminate();
    },
  };
}
