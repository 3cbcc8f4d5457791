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
import { readUntilJudged } from './read-until-judged.js';

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
export async function peekAndClassify(
  socket: Socket,
  {
    firstReadTimeoutMs = defaultFirstReadTimeoutMs,
    readTimeoutMs = defaultReadTimeoutMs,
    headerLimit = defaultHeaderLimit,
    logger,
  }: PeekOptions = {},
): Promise<PeekResult> {
  const { result, bytes, excess } = await readUntilJudged<Classification>(socket, {
    firstReadMs: firstReadTimeoutMs,
    readMs: readTimeoutMs,
    limit: headerLimit,
    judge: (view) => {
      const result = classifyTcp(view, { headerLimit });
      return result.kind === 'need-more' ? undefined : result;
    },
    // classifyTcp itself says header_limit_exceeded once the limit is full.
    full: () => ({ kind: 'unknown', reason: 'header_limit_exceeded' }),
    // Upstream (classifier.go tcpUnknownClassifier): a read error, EOF included, is `read_failed` only
    // when no byte came; otherwise the bytes are classified as complete (a prefix that never completes
    // is `unclassified`).
    ended: (view, err) => {
      if (err) logger?.debug({ err: { message: err.message, code: (err as NodeJS.ErrnoException).code } }, 'client read failed');
      if (view.length === 0) return { kind: 'unknown', reason: 'read_failed' };
      const result = classifyTcp(view, { headerLimit, final: true });
      return result.kind === 'need-more' ? { kind: 'unknown', reason: 'unclassified' } : result;
    },
    timedOut: (idle) => ({ kind: 'unknown', reason: idle ? 'client_idle' : 'classification_timeout' }),
  });
  if (excess.length > 0 && !socket.destroyed) socket.unshift(excess);
  logger?.debug({ result, peekedBytes: bytes.length }, 'classified client bytes');
  return { result, peeked: bytes };
}
