import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, fstatSync, linkSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Writes a file the way a file in a directory other users can write must be written: the bytes go to
 * a fresh, unguessable name in the target directory, created exclusively without following a symlink
 * (O_CREAT|O_EXCL|O_NOFOLLOW) with `mode` (default 0600, re-applied after the umask), and the finished
 * file is renamed over the target (rename replaces a symlink there, never writes through it). A reader
 * never sees half a file, and nobody can pre-create or redirect the temporary file.
 * `replace: false` keeps an existing target (link instead of rename): EEXIST is thrown.
 * `inPlace: true` rewrites an existing regular file in its own inode (opened without following a
 * symlink, truncated): for a file that is bind-mounted somewhere, where a rename would leave the
 * mount on the old inode. A missing target is created as above.
 */
export interface WriteFileAtomicOptions {
  mode?: number;
  replace?: boolean;
  inPlace?: boolean;
}

const maxNameAttempts = 8;
const createFlags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

const inPlaceFlags = constants.O_WRONLY | constants.O_TRUNC | constants.O_NOFOLLOW;

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
}

export function writeFileAtomicPrivateSync(path: string, data: string | Uint8Array, { mode = 0o600, replace = true, inPlace = false }: WriteFileAtomicOptions = {}): void {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  if (inPlace) {
    let fd: number | undefined;
    try {
      fd = openSync(path, inPlaceFlags);
    } catch (err) {
      // Missing: created below. A symlink (ELOOP) or anything else is not written through.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (fd !== undefined) {
      try {
        if (!fstatSync(fd).isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: 'EINVAL' });
        fchmodSync(fd, mode);
        writeAll(fd, bytes);
      } finally {
        closeSync(fd);
      }
      return;
    }
  }
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
      writeAll(fd, bytes);
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
