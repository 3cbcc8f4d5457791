import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DirectReads } from '../net/direct-reads.js';
import type { RelayDirection, RelaySession } from './relay-session.js';

/**
 * One direction of a relay that a fault shapes (throttle, reset after N bytes): one chunk at a time,
 * the source paused while a chunk is delayed or written. Only the connections a shaping fault applies
 * to take this slower path.
 */

/** What shapes this direction. */
export interface DirectionShaping {
  throttle: { bytesPerSecond: number } | undefined;
  /** This direction counts against the session's `resetBudget`. */
  reset: boolean;
}

/** Pause between the last allowed byte and the RST of `reset-after`. */
const resetGraceMs = 10;

export function pumpShaped(
  session: RelaySession,
  src: Socket,
  dst: Socket,
  dir: RelayDirection,
  shaping: DirectionShaping,
  direct: DirectReads | undefined,
): void {
  // The FIN is passed on only after the chunks still being shaped (and never after a reset).
  let pending: Promise<boolean> = Promise.resolve(true);
  const onChunk = (chunk: Buffer): void => {
    src.pause();
    const previous = pending;
    pending = previous.then((more) => (more ? writeShaped(session, dst, dir, shaping, chunk) : false));
    pending.then(
      (more) => {
        if (more && !session.finished) src.resume();
      },
      () => session.stop('fault'),
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
        session.noteSourceEnd(dir);
        dst.end();
      },
      () => {},
    );
  });
}

/** Resolves false once the relay must not go on (reset done, or the relay ended). */
async function writeShaped(session: RelaySession, dst: Socket, dir: RelayDirection, shaping: DirectionShaping, chunk: Buffer): Promise<boolean> {
  let data = chunk;
  let resetNow = false;
  if (shaping.reset && session.resetBudget !== undefined) {
    if (data.length >= session.resetBudget) {
      data = data.subarray(0, session.resetBudget);
      resetNow = true;
    }
    session.resetBudget -= data.length;
  }
  if (shaping.throttle) {
    if (!(await writeThrottled(session, dst, dir, shaping.throttle.bytesPerSecond, data))) return false;
  } else if (data.length > 0) {
    session.count(dir, data.length);
    if (!dst.write(data)) await waitDrain(dst);
  }
  if (resetNow) {
    await resetAfterFlush(session, dst);
    return false;
  }
  return true;
}

async function writeThrottled(session: RelaySession, dst: Socket, dir: RelayDirection, bytesPerSecond: number, data: Buffer): Promise<boolean> {
  // Slices of at most 1/20 s of traffic keep the rate smooth on big chunks.
  const slice = Math.max(1, Math.floor(bytesPerSecond / 20));
  for (let off = 0; off < data.length; off += slice) {
    const part = data.subarray(off, off + slice);
    await sleep((part.length / bytesPerSecond) * 1000);
    if (session.finished || dst.destroyed) return false;
    session.count(dir, part.length);
    if (!dst.write(part)) await waitDrain(dst);
  }
  return true;
}

async function resetAfterFlush(session: RelaySession, dst: Socket): Promise<void> {
  // Let the allowed bytes reach the client before the RST: an RST that arrives together with
  // unread data can surface as a plain EOF (and a reset in the same tick as a write becomes a FIN).
  await new Promise<void>((resolve) => dst.write(Buffer.alloc(0), () => resolve()));
  await sleep(resetGraceMs);
  session.noteEnd('fault');
  session.client.resetAndDestroy();
  session.upstream.destroy();
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
