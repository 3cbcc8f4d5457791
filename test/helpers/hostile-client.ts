import { once } from 'node:events';
import net from 'node:net';
import type { Fuzz } from './fuzz.js';

/**
 * A hostile TCP client for socket fuzz tests: sends bytes in planned pieces, half-closes or not,
 * optionally ignores the server's FIN, and reports what came back and how (and when) the connection
 * ended. Plus a bounded-concurrency runner and a count of the process's open TCP sockets, which shows
 * a server holding sockets it should have let go.
 */

/** Open TCP sockets in this process (clients and servers): a server that keeps a socket shows here. */
export const openSockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;

/** Runs `work` over `items` with at most `limit` at a time. */
export async function pool<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await work(items[i]!, i);
      }
    }),
  );
  return results;
}

export interface HostileCase {
  kind: string;
  bytes: Buffer;
  /** Split points and the pause before each later piece (ms): the answer must not depend on them. */
  pieces: { at: number; pauseMs: number }[];
  /** Half-close after sending (EOF), or stay open and let the server end it. */
  halfClose: boolean;
  /** Keep our side open even after the server's FIN (a client that never closes). */
  ignoreFin: boolean;
}

export interface Exchange {
  received: Buffer;
  end: 'fin' | 'reset' | 'open';
  ms: number;
}

/** No split half the time; otherwise one to three split points with short pauses. */
export function splitPlan(f: Fuzz, length: number): HostileCase['pieces'] {
  if (length < 2 || f.chance(0.5)) return [];
  return Array.from({ length: f.between(1, 3) }, () => ({ at: f.between(1, length - 1), pauseMs: f.int(15) })).sort((a, b) => a.at - b.at);
}

/** How often a client that ignores FIN pokes the connection to learn whether the server let it go. */
const pokeIntervalMs = 100;

/**
 * Sends the case as planned and waits for the server to end the connection (or the bound to pass, or
 * `stopWhen` to accept what came back).
 * A client that ignores FIN keeps its side open and writes a byte now and then: the write fails
 * (reset) once the server has really closed its socket, and goes through while the server holds it.
 */
export async function play(port: number, c: HostileCase, boundMs: number, stopWhen?: (received: Buffer) => boolean): Promise<Exchange> {
  const started = Date.now();
  const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: c.ignoreFin, noDelay: true });
  const chunks: Buffer[] = [];
  let end: Exchange['end'] | undefined;
  let poke: NodeJS.Timeout | undefined;
  const ended = new Promise<void>((resolve) => {
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      // The caller has seen enough (e.g. a tunnel is up): the connection stays open by design.
      if (stopWhen?.(Buffer.concat(chunks))) resolve();
    });
    socket.once('end', () => {
      if (!c.ignoreFin) {
        end ??= 'fin';
        resolve();
        return;
      }
      poke = setInterval(() => socket.write(Buffer.from([0])), pokeIntervalMs);
    });
    // `on`, not `once`: a poke may fail again after the first error.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearInterval(poke);
      if (end !== 'reset') end = err.code === 'ECONNRESET' || err.code === 'EPIPE' ? 'reset' : (end ?? 'reset');
      resolve();
    });
    socket.once('close', () => {
      clearInterval(poke);
      end ??= 'fin';
      resolve();
    });
  });
  await once(socket, 'connect');
  let from = 0;
  for (const piece of c.pieces) {
    if (socket.destroyed || socket.writableEnded) break;
    socket.write(c.bytes.subarray(from, piece.at));
    from = piece.at;
    await new Promise((r) => setTimeout(r, piece.pauseMs));
  }
  if (!socket.destroyed) socket.write(c.bytes.subarray(from));
  if (c.halfClose && !socket.destroyed) socket.end();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([ended, new Promise<void>((r) => (timer = setTimeout(r, boundMs)))]);
  clearTimeout(timer);
  clearInterval(poke);
  const result: Exchange = { received: Buffer.concat(chunks), end: end ?? 'open', ms: Date.now() - started };
  socket.destroy();
  return result;
}
