import type { Socket } from 'node:net';
import type { Direction } from './faults/fault.js';

/** The state one relay's two directions share: how it ended, byte counts, the `reset-after` budget. */

export type RelayEnd = 'client-closed' | 'upstream-closed' | 'client-error' | 'upstream-error' | 'idle-timeout' | 'fault' | 'stopped';

/** One direction of a relay: `up` = client → destination. */
export type RelayDirection = 'up' | 'down';

export interface RelayCounters {
  bytesUp: number;
  bytesDown: number;
}

export interface RelayShaping {
  throttle?: { bytesPerSecond: number; direction: Direction };
  resetAfter?: { bytes: number; direction: Direction };
}

export class RelaySession {
  /** Once both sides closed and `onEnd` was called. */
  finished = false;
  /** Bytes `reset-after` still lets through, shared by the directions it counts. */
  resetBudget: number | undefined;
  private firstEnd: RelayEnd | undefined;
  private closed = 0;

  constructor(
    readonly client: Socket,
    readonly upstream: Socket,
    private readonly counters: RelayCounters,
    private readonly onEnd: (cause: RelayEnd) => void,
    resetAfterBytes: number | undefined,
  ) {
    this.resetBudget = resetAfterBytes;
  }

  /** The first cause noted is the one reported. */
  noteEnd(cause: RelayEnd): void {
    this.firstEnd ??= cause;
  }

  /** The source of `dir` sent its FIN. */
  noteSourceEnd(dir: RelayDirection): void {
    this.noteEnd(dir === 'up' ? 'client-closed' : 'upstream-closed');
  }

  stop(cause: RelayEnd = 'stopped'): void {
    this.noteEnd(cause);
    this.client.destroy();
    this.upstream.destroy();
  }

  /** One side's socket closed; the relay ends with the second. */
  sideClosed(): void {
    if (++this.closed < 2 || this.finished) return;
    this.finished = true;
    this.onEnd(this.firstEnd ?? 'client-closed');
  }

  count(dir: RelayDirection, n: number): void {
    if (dir === 'up') this.counters.bytesUp += n;
    else this.counters.bytesDown += n;
  }
}
