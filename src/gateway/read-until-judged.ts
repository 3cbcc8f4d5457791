import type { Socket } from 'node:net';

/**
 * The read loop of the gateway's peeks (the client's first bytes, a server-first banner): reads a
 * socket's `data` events into one bounded buffer with the platform's deadlines (a first read, then each
 * later one) until a pure judge decides. Never rejects. On return the socket is paused and nothing of
 * this function is attached to it.
 */

export interface ReadUntilJudgedOptions<R> {
  /** Bytes already read, judged before the socket is read. */
  initial?: Buffer;
  firstReadMs: number;
  readMs: number;
  /** Bytes kept and judged at most; the rest of the read that crosses it comes back as `excess`. */
  limit: number;
  /** The verdict on the bytes so far, or undefined to read more. */
  judge(bytes: Buffer): R | undefined;
  /** No verdict when the limit is full. */
  full(bytes: Buffer): R;
  /** The peer closed (EOF) or the socket failed before a verdict. */
  ended(bytes: Buffer, err?: Error): R;
  /** A deadline passed: the first read's (`idle`) or a later one's. */
  timedOut(idle: boolean): R;
}

export interface Judged<R> {
  result: R;
  /** Every byte read and judged (at most `limit`). */
  bytes: Buffer;
  /** What the read that reached the limit carried past it. */
  excess: Buffer;
}

const empty: Buffer = Buffer.alloc(0);

export function readUntilJudged<R>(socket: Socket, o: ReadUntilJudgedOptions<R>): Promise<Judged<R>> {
  return new Promise((resolve) => {
    let buffer: Buffer = empty;
    let size = 0;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (result: R, excess: Buffer = empty): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      socket.off('close', onEnd);
      socket.pause();
      resolve({ result, bytes: buffer.subarray(0, size), excess });
    };
    const arm = (ms: number, idle: boolean): void => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(o.timedOut(idle)), ms);
    };
    const onData = (chunk: Buffer): void => {
      const take = Math.min(chunk.length, o.limit - size);
      // The first read is kept as it came (Node sizes each read's memory to its bytes), later ones
      // grow one buffer of our own, bounded by the limit.
      if (size === 0) buffer = chunk.subarray(0, take);
      else buffer = append(buffer, size, chunk.subarray(0, take), o.limit);
      size += take;
      const view = buffer.subarray(0, size);
      const result = o.judge(view) ?? (size >= o.limit ? o.full(view) : undefined);
      if (result !== undefined) return finish(result, chunk.subarray(take));
      arm(o.readMs, false);
    };
    const onEnd = (): void => finish(o.ended(buffer.subarray(0, size)));
    const onError = (err: Error): void => finish(o.ended(buffer.subarray(0, size), err));
    arm(o.firstReadMs, true);
    if (o.initial?.length) onData(o.initial);
    if (settled) return;
    if (socket.destroyed || socket.readableEnded) return onEnd();
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', onError);
    socket.once('close', onEnd);
    socket.resume();
  });
}

/**
 * Appends to a buffer holding `size` bytes, growing it geometrically but never past `limit`. A
 * buffer that is still the first read is full (`size` is its length), so it is never written into.
 */
function append(buffer: Buffer, size: number, bytes: Buffer, limit: number): Buffer {
  let out = buffer;
  if (size + bytes.length > buffer.length) {
    out = Buffer.allocUnsafe(Math.min(limit, Math.max(size + bytes.length, buffer.length * 2, 4096)));
    buffer.copy(out, 0, 0, size);
  }
  bytes.copy(out, size);
  return out;
}
