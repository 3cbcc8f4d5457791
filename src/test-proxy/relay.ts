import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Direction } from './faults/fault.js';
import { writeThrough, type DirectReads } from '../net/direct-reads.js';

/**
 * Relays bytes both ways between a client and its destination with backpressure, counting bytes, and
 * honouring half-close (a FIN is passed on; the relay ends when both sides are closed). Shaping effects
 * (throttle, reset after N bytes) take a slower path only for the connections they apply to.
 */

export type RelayEnd = 'client-closed' | 'upstream-closed' | 'client-error' | 'upstream-error' | 'idle-timeout' | 'fault' | 'stopped';

/** Bytes per read on the destination side: fewer, larger reads relay bulk data with less CPU (see gateway/dial.ts upstreamReadBytes). */
export const directReadBytes = 1024 * 1024;

export interface RelayCounters {
  bytesUp: number;
  bytesDown: number;
}

export interface RelayShaping {
  throttle?: { bytesPerSecond: number; direction: Direction };
  resetAfter?: { bytes: number; direction: Direction };
}

export interface RelayOptions {
  /** Close both sides after this long without traffic either way (0 = never). */
  idleTimeoutMs?: number;
  shaping?: RelayShaping;
  /** Bytes the client sent before the relay started; they go upstream first. */
  rest?: Buffer;
  /** Updated live (the connection log entry itself). */
  counters: RelayCounters;
  /** Set when `upstream` was created with `directReads.onread`. */
  directReads?: DirectReads;
  onEnd(cause: RelayEnd): void;
}

export interface Relay {
  stop(cause?: RelayEnd): void;
}

/** Pause between the last allowed byte and the RST of `reset-after`. */
const resetGraceMs = 10;

const applies = (d: Direction, dir: 'up' | 'down'): boolean => d === 'both' || d === dir;

export function startRelay(
  client: Socket,
  upstream: Socket,
  { idleTimeoutMs = 0, shaping = {}, rest, counters, directReads, onEnd }: RelayOptions,
): Relay {
  let firstEnd: RelayEnd | undefined;
  let closed = 0;
  let finished = false;
  const noteEnd = (cause: RelayEnd): void => {
    firstEnd ??= cause;
  };
  const finish = (): void => {
    if (finished) return;
    finished = true;
    onEnd(firstEnd ?? 'client-closed');
  };
  const stop = (cause: RelayEnd = 'stopped'): void => {
    noteEnd(cause);
    client.destroy();
    upstream.destroy();
  };
  const onClose = (): void => {
    if (++closed === 2) finish();
  };
  client.once('close', onClose);
  upstream.once('close', onClose);
  client.on('error', () => {
    noteEnd('client-error');
    upstream.destroy();
  });
  upstream.on('error', () => {
    noteEnd('upstream-error');
    client.destroy();
  });
  if (idleTimeoutMs > 0) {
    // Every relayed byte reads or writes the client socket, so its timer sees activity both ways.
    client.setTimeout(idleTimeoutMs, () => stop('idle-timeout'));
  }

  let resetBudget = shaping.resetAfter?.bytes;
  const count = (dir: 'up' | 'down', n: number): void => {
    if (dir === 'up') counters.bytesUp += n;
    else counters.bytesDown += n;
  };

  const pump = (src: Socket, dst: Socket, dir: 'up' | 'down'): void => {
    const throttle = shaping.throttle && applies(shaping.throttle.direction, dir) ? shaping.throttle : undefined;
    const reset = shaping.resetAfter && applies(shaping.resetAfter.direction, dir) ? shaping.resetAfter : undefined;
    const direct = dir === 'down' ? directReads : undefined;
    if (!throttle && !reset) {
      src.on('end', () => {
        noteEnd(dir === 'up' ? 'client-closed' : 'upstream-closed');
        dst.end();
      });
      if (direct) {
        // A pending write still points into the read buffer: no more reads until it is flushed.
        const through = writeThrough(dst, () => src.resume());
        const sink = (view: Buffer): boolean => {
          count(dir, view.length);
          return through(view);
        };
        for (const chunk of direct.attach(sink)) {
          count(dir, chunk.length);
          dst.write(chunk);
        }
        return;
      }
      src.on('data', (chunk: Buffer) => {
        count(dir, chunk.length);
        if (!dst.write(chunk)) src.pause();
      });
      dst.on('drain', () => src.resume());
      return;
    }
    // Shaped path: one chunk at a time, the source paused while a chunk is delayed or written.
    const writeShaped = async (chunk: Buffer): Promise<boolean> => {
      let data = chunk;
      let resetNow = false;
      if (reset && resetBudget !== undefined) {
        if (data.length >= resetBudget) {
          data = data.subarray(0, resetBudget);
          resetNow = true;
        }
        resetBudget -= data.length;
      }
      if (throttle) {
        // Slices of at most 1/20 s of traffic keep the rate smooth on big chunks.
        const slice = Math.max(1, Math.floor(throttle.bytesPerSecond / 20));
        for (let off = 0; off < data.length; off += slice) {
          const part = data.subarray(off, off + slice);
          await sleep((part.length / throttle.bytesPerSecond) * 1000);
          if (finished || dst.destroyed) return false;
          count(dir, part.length);
          if (!dst.write(part)) await waitDrain(dst);
        }
      } else if (data.length > 0) {
        count(dir, data.length);
        if (!dst.write(data)) await waitDrain(dst);
      }
      if (resetNow) {
        // Let the allowed bytes reach the client before the RST: an RST that arrives together with
        // unread data can surface as a plain EOF (and a reset in the same tick as a write becomes a FIN).
        await new Promise<void>((resolve) => dst.write(Buffer.alloc(0), () => resolve()));
        await sleep(resetGraceMs);
        noteEnd('fault');
        client.resetAndDestroy();
        upstream.destroy();
        return false;
      }
      return true;
    };
    // The FIN is passed on only after the chunks still being shaped (and never after a reset).
    let pending: Promise<boolean> = Promise.resolve(true);
    const onChunk = (chunk: Buffer): void => {
      src.pause();
      const previous = pending;
      pending = previous.then((more) => (more ? writeShaped(chunk) : false));
      pending.then(
        (more) => {
          if (more && !finished) src.resume();
        },
        () => stop('fault'),
      );
    };
    if (direct) {
      // Shaped chunks outlive the read, so they are copied out of the shared read buffer.
      for (const chunk of direct.attach((view) => (onChunk(Buffer.from(view)), false))) onChunk(chunk);
    } else src.on('data', onChunk);
    src.on('end', () => {
      pending.then(
        (more) => {
          if (!more) return;
          noteEnd(dir === 'up' ? 'client-closed' : 'upstream-closed');
          dst.end();
        },
        () => {},
      );
    });
  };

  pump(client, upstream, 'up');
  pump(upstream, client, 'down');
  if (rest && rest.length > 0) client.unshift(rest);
  client.resume();
  upstream.resume();
  return { stop };
}

function waitDrain(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.once('drain', done);
    socket.once('close', done);
  });
}
