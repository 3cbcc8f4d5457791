import type { Socket } from 'node:net';
import type { DirectReads } from '../net/direct-reads.js';
import type { Direction } from './faults/fault.js';
import { pumpPlain } from './relay-pump.js';
import { RelaySession, type RelayCounters, type RelayDirection, type RelayEnd, type RelayShaping } from './relay-session.js';
import { pumpShaped } from './relay-shaped-pump.js';

/**
 * Relays bytes both ways between a client and its destination with backpressure, counting bytes, and
 * honouring half-close (a FIN is passed on; the relay ends when both sides are closed). Shaping effects
 * (throttle, reset after N bytes) take a slower path only for the connections they apply to.
 */

export type { RelayCounters, RelayEnd, RelayShaping };

/** Bytes per read on the destination side: fewer, larger reads relay bulk data with less CPU (see gateway/dial.ts upstreamReadBytes). */
export const directReadBytes = 1024 * 1024;

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

const applies = (d: Direction, dir: RelayDirection): boolean => d === 'both' || d === dir;

export function startRelay(
  client: Socket,
  upstream: Socket,
  { idleTimeoutMs = 0, shaping = {}, rest, counters, directReads, onEnd }: RelayOptions,
): Relay {
  const session = new RelaySession(client, upstream, counters, onEnd, shaping.resetAfter?.bytes);
  const onClose = (): void => session.sideClosed();
  client.once('close', onClose);
  upstream.once('close', onClose);
  client.on('error', () => {
    session.noteEnd('client-error');
    upstream.destroy();
  });
  upstream.on('error', () => {
    session.noteEnd('upstream-error');
    client.destroy();
  });
  if (idleTimeoutMs > 0) {
    // Every relayed byte reads or writes the client socket, so its timer sees activity both ways.
    client.setTimeout(idleTimeoutMs, () => session.stop('idle-timeout'));
  }
  pump(session, client, upstream, 'up', shaping, undefined);
  pump(session, upstream, client, 'down', shaping, directReads);
  if (rest && rest.length > 0) client.unshift(rest);
  client.resume();
  upstream.resume();
  return { stop: (cause) => session.stop(cause) };
}

function pump(session: RelaySession, src: Socket, dst: Socket, dir: RelayDirection, shaping: RelayShaping, direct: DirectReads | undefined): void {
  const throttle = shaping.throttle && applies(shaping.throttle.direction, dir) ? shaping.throttle : undefined;
  const reset = shaping.resetAfter !== undefined && applies(shaping.resetAfter.direction, dir);
  if (!throttle && !reset) pumpPlain(session, src, dst, dir, direct);
  else pumpShaped(session, src, dst, dir, { throttle, reset }, direct);
}
