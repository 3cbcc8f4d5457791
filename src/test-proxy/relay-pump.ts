import type { Socket } from 'node:net';
import { writeThrough, type DirectReads } from '../net/direct-reads.js';
import type { RelayDirection, RelaySession } from './relay-session.js';

/**
 * One unshaped direction of a relay: bytes go through as they come, with backpressure, and the FIN is
 * passed on. `direct` is set when `src` reads into a reused buffer of its own (`DirectReads`).
 */
export function pumpPlain(session: RelaySession, src: Socket, dst: Socket, dir: RelayDirection, direct: DirectReads | undefined): void {
  src.on('end', () => {
    session.noteSourceEnd(dir);
    dst.end();
  });
  if (direct) {
    // A pending write still points into the read buffer: no more reads until it is flushed.
    const through = writeThrough(dst, () => src.resume());
    const sink = (view: Buffer): boolean => {
      session.count(dir, view.length);
      return through(view);
    };
    for (const chunk of direct.attach(sink)) {
      session.count(dir, chunk.length);
      dst.write(chunk);
    }
    return;
  }
  src.on('data', (chunk: Buffer) => {
    session.count(dir, chunk.length);
    if (!dst.write(chunk)) src.pause();
  });
  dst.on('drain', () => src.resume());
}
