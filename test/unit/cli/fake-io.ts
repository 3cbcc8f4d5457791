import { Writable } from 'node:stream';
import type { CliIo } from '../../../src/cli/io.js';

/** In-memory stdout/stderr for running a command in-process. */
export function fakeIo(env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const sink = (into: string[]) =>
    new Writable({
      write(chunk, _enc, cb) {
        into.push(chunk.toString());
        cb();
      },
    });
  const io: CliIo = { stdout: sink(out), stderr: sink(err), env };
  return { io, stdout: () => out.join(''), stderr: () => err.join('') };
}
