/**
 * The I/O shell around the pure TCP classifier: reads the first client bytes of an intercepted
 * connection with the platform's deadlines (reference §4: 500 ms for the first read, 5 s for each
 * later one, 64 KiB header limit) until `classifyTcp` decides, then pauses the socket so that the
 * gateway can replay `peeked` upstream and pipe the rest.
 *
 * Unknown reasons, as upstream:
 * - `client_idle`: no byte within the first-read timeout;
 * - `classification_timeout`: a later read timed out before the bytes classified;
 * - `read_failed`: the socket errored, or the client closed (EOF), before any byte came (with bytes,
 *   they are classified as complete, as upstream's classifiers see them once the read is done);
 * - `header_limit_exceeded`: the limit was reached while a classifier still waited for bytes.
 */
import type { Socket } from 'node:net';
import { classifyTcp, defaultHeaderLimit } from '../classify/classify-tcp.js';
import type { Classification } from '../classify/protocol-match.js';
import type { Logger } from '../log.js';

export interface PeekOptions {
  firstReadTimeoutMs?: number;
  readTimeoutMs?: number;
  headerLimit?: number;
  logger?: Logger;
}

export interface PeekResult {
  result: Classification;
  /** Every byte read from the client (at most `headerLimit`); replay them upstream first. */
  peeked: Buffer;
}

export const defaultFirstReadTimeoutMs = 500;
export const defaultReadTimeoutMs = 5_000;

/**
 * Reads and classifies the first client bytes. Never rejects. On return the socket is paused and
 * this function's listeners are removed (the caller must attach its own 'error' listener); bytes read
 * beyond `headerLimit` are pushed back into the socket with `unshift`, so nothing is lost and memory
 * stays bounded by the limit.
 */
export function peekAndClassify(
  socket: Socket,
  {
    firstReadTimeoutMs = defaultFirstReadTimeoutMs,
    readTimeoutMs = defaultReadTimeoutMs,
    headerLimit = defaultHeaderLimit,
    logger,
  }: PeekOptions = {},
): Promise<PeekResult> {
  return new Promise((resolve) => {
    let buffer = Buffer.alloc(0);
    let size = 0;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;

    const finish = (result: Classification, excess?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      socket.off('close', onClose);
      socket.pause();
      if (excess !== undefined && excess.length > 0 && !socket.destroyed) socket.unshift(excess);
      const peeked = buffer.subarray(0, size);
      logger?.debug({ result, peekedBytes: size }, 'classified client bytes');
      resolve({ result, peeked });
    };
    const unknownAfterTimeout = (reason: 'client_idle' | 'classification_timeout'): void =>
      finish({ kind: 'unknown', reason });
    const arm = (ms: number, reason: 'client_idle' | 'classification_timeout'): void => {
      clearTimeout(timer);
      timer = setTimeout(unknownAfterTimeout, ms, reason);
    };

    const onData = (chunk: Buffer): void => {
      const take = Math.min(chunk.length, headerLimit - size);
      append(chunk.subarray(0, take));
      const result = classifyTcp(buffer.subarray(0, size), { headerLimit });
      if (result.kind !== 'need-more') {
        finish(result, chunk.subarray(take));
        return;
      }
      arm(readTimeoutMs, 'classification_timeout');
    };
    const append = (bytes: Buffer): void => {
      if (size + bytes.length > buffer.length) {
        // Grow geometrically, never past the limit: memory is bounded by headerLimit.
        const grown = Buffer.allocUnsafe(Math.min(headerLimit, Math.max(size + bytes.length, buffer.length * 2, 4096)));
        buffer.copy(grown, 0, 0, size);
        buffer = grown;
      }
      bytes.copy(buffer, size);
      size += bytes.length;
    };
    // Upstream (classifier.go tcpUnknownClassifier): a read error, EOF included, is `read_failed` only
    // when no byte came; otherwise the bytes are classified as complete (a prefix that never completes
    // is `unclassified`).
    const readFailed = (): void => {
      if (size === 0) return finish({ kind: 'unknown', reason: 'read_failed' });
      const result = classifyTcp(buffer.subarray(0, size), { headerLimit, final: true });
      finish(result.kind === 'need-more' ? { kind: 'unknown', reason: 'unclassified' } : result);
    };
    const onEnd = readFailed;
    const onClose = readFailed;
    const onError = (err: Error): void => {
      logger?.debug({ err: { message: err.message, code: (err as NodeJS.ErrnoException).code } }, 'client read failed');
      readFailed();
    };

    if (socket.destroyed || socket.readableEnded) {
      readFailed();
      return;
    }
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', onError);
    socket.once('close', onClose);
    arm(firstReadTimeoutMs, 'client_idle');
    socket.resume();
  });
}
