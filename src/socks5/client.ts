import type { Socket } from 'node:net';
import type { DirectReads } from '../net/direct-reads.js';
import { Socks5ClientHandshake, type ClientFailure, type ClientHandshakeOptions, type ClientStage } from './client-handshake.js';
import type { Socks5Address } from './protocol.js';

/**
 * The socket driver of the SOCKS5 client (client-handshake.ts): writes what the handshake says, feeds
 * it what the socket reads, and hands back the bytes read past the reply in the same turn. It never
 * throws: every way a handshake ends is an outcome value, none of which carries the credentials.
 */

export type ClientOutcome =
  | { kind: 'established'; bound: Socks5Address; surplus: Buffer }
  | { kind: 'failed'; stage: ClientStage; failure: ClientFailure }
  /** The proxy closed (FIN or close) before the handshake was over. */
  | { kind: 'closed'; stage: ClientStage }
  | { kind: 'timeout'; stage: ClientStage }
  /** `code`: the errno code (`ECONNRESET`); `message` is Node's (`read ECONNRESET`). */
  | { kind: 'socket-error'; stage: ClientStage; code: string | undefined; message: string };

/**
 * Runs a CONNECT handshake on a connected socket whose reads go through `reads`. On return the socket
 * is paused, nothing of this function is attached to it, and `reads` has no pending bytes: the caller
 * attaches its own sink (and an 'error' listener) and resumes.
 */
export function socks5Connect(socket: Socket, reads: DirectReads, options: ClientHandshakeOptions, timeoutMs: number): Promise<ClientOutcome> {
  const handshake = new Socks5ClientHandshake(options);
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: ClientOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('end', onClosed);
      socket.off('close', onClosed);
      socket.off('error', onError);
      socket.pause();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish({ kind: 'timeout', stage: handshake.waitingFor }), timeoutMs);
    const onClosed = (): void => finish({ kind: 'closed', stage: handshake.waitingFor });
    const onError = (err: NodeJS.ErrnoException): void => finish({ kind: 'socket-error', stage: handshake.waitingFor, code: err.code, message: err.message });
    socket.once('end', onClosed);
    socket.once('close', onClosed);
    socket.once('error', onError);
    // The view is the socket's reused read buffer: the handshake gets a copy. Returning false stops
    // reading at once, so nothing is read past the reply until the caller resumes.
    reads.attach((view) => {
      if (settled) return false;
      const step = handshake.receive(Buffer.from(view));
      if (step.kind === 'failed') {
        finish(step);
        return false;
      }
      for (const bytes of step.send) socket.write(bytes);
      if (step.kind === 'continue') return true;
      finish({ kind: 'established', bound: step.bound, surplus: step.surplus });
      return false;
    });
    socket.write(handshake.greeting());
    // Flowing, so that a FIN during the handshake is seen ('end'); the reads themselves go to `reads`.
    socket.resume();
  });
}
