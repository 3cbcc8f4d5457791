import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, linkSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Writes a file the way a file in a directory other users can write must be written: the bytes go to
 * a fresh, unguessable name in the target directory, created exclusively without following a symlink
 * (O_CREAT|O_EXCL|O_NOFOLLOW) with `mode` (default 0600, re-applied after the umask), and the finished
 * file is renamed over the target (rename replaces a symlink there, never writes through it). A reader
 * never sees half a file, and nobody can pre-create or redirect the temporary file.
 * `replace: false` keeps an existing target (link instead of rename): EEXIST is thrown.
 */
export interface WriteFileAtomicOptions {
  mode?: number;
  replace?: boolean;
}

const maxNameAttempts = 8;
const createFlags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

export function writeFileAtomicPrivateSync(path: string, data: string | Uint8Array, { mode = 0o600, replace = true }: WriteFileAtomicOptions = {}): void {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const dir = dirname(path);
  let tmp = '';
  let fd: number | undefined;
  for (let attempt = 0; fd === undefined; attempt++) {
    tmp = join(dir, `.${basename(path)}.${randomBytes(12).toString('hex')}.tmp`);
    try {
      fd = openSync(tmp, createFlags, mode);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt + 1 >= maxNameAttempts) throw err;
    }
  }
  let renamed = false;
  try {
    try {
      fchmodSync(fd, mode);
      // No fsync: these files need atomicity and privacy, not durability across a power loss (an
      // fsync costs tens of milliseconds on a busy disk, on every start).
      for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
    } finally {
      closeSync(fd);
    }
    if (replace) {
      renameSync(tmp, path);
      renamed = true;
    } else linkSync(tmp, path);
  } finally {
    if (!renamed) {
      try {
        unlinkSync(tmp);
      } catch {
        // already gone
      }
    }
  }
}
