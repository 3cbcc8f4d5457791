import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, renameSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { EmulatorError } from '../errors.js';
import { processStartTime } from '../interception/transparent/instance-state.js';
import { writeFileAtomicPrivateSync } from './write-file-atomic-private.js';

/**
 * One emulator per data dir: two processes on one SQLite file and key would silently share (and
 * fight over) state. The lock is a file in the data dir holding the owner's pid (with its process
 * start time, so a recycled pid is not mistaken for it) and, once it listens, its API URL. It is
 * created exclusively; a lock whose owner is dead is taken over.
 */
export const lockFileName = 'emulator.lock';

interface LockContents {
  pid: number;
  startTime?: string;
  apiUrl: string | null;
  nonce: string;
  createdAt: string;
}

export interface DataDirLock {
  readonly path: string;
  /** Records the API URL, for the message a second start prints. */
  setApiUrl(apiUrl: string): void;
  /** Removes the lock if it is still this one. */
  release(): void;
}

const maxAttempts = 5;

function readLock(path: string): LockContents | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockContents>;
    if (typeof parsed.pid !== 'number' || !Number.isInteger(parsed.pid) || parsed.pid <= 0) return undefined;
    return { pid: parsed.pid, startTime: parsed.startTime, apiUrl: typeof parsed.apiUrl === 'string' ? parsed.apiUrl : null, nonce: String(parsed.nonce ?? ''), createdAt: String(parsed.createdAt ?? '') };
  } catch {
    return undefined;
  }
}

function isAlive(holder: LockContents): boolean {
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const now = processStartTime(holder.pid);
  return holder.startTime === undefined || now === undefined || now === holder.startTime;
}

const sameLock = (a: LockContents | undefined, b: LockContents | undefined): boolean => !!a && !!b && a.pid === b.pid && a.nonce === b.nonce;

/** Takes the data dir's lock, or throws `data_dir_locked` naming the running emulator's pid and API URL. */
export function lockDataDir(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, lockFileName);
  const mine: LockContents = { pid: process.pid, startTime: processStartTime(process.pid), apiUrl: null, nonce: randomBytes(12).toString('hex'), createdAt: new Date().toISOString() };
  const write = (contents: LockContents, replace: boolean) => writeFileAtomicPrivateSync(path, JSON.stringify(contents) + '\n', { replace });

  for (let attempt = 0; ; attempt++) {
    try {
      write(mine, false);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt + 1 >= maxAttempts) throw err;
    }
    const holder = readLock(path);
    if (holder && isAlive(holder)) {
      throw new EmulatorError(
        'data_dir_locked',
        `data dir ${dataDir} is in use by another emulator (pid ${holder.pid}, API ${holder.apiUrl ?? 'not listening yet'}); stop it, or start with another --data-dir or with --ephemeral`,
      );
    }
    // Stale: move it aside, and make sure what was moved is the stale lock, not one taken meanwhile.
    const aside = `${path}.stale-${randomBytes(8).toString('hex')}`;
    try {
      renameSync(path, aside);
    } catch {
      continue; // gone already: try again
    }
    const moved = readLock(aside);
    if (holder && moved && !sameLock(holder, moved) && isAlive(moved)) {
      try {
        linkSync(aside, path); // a live lock taken between our read and rename: put it back
      } catch {
        // someone holds the name again; the next attempt reads it
      }
    }
    try {
      unlinkSync(aside);
    } catch {
      // already gone
    }
  }

  return {
    path,
    setApiUrl(apiUrl) {
      if (!sameLock(readLock(path), mine)) return;
      mine.apiUrl = apiUrl;
      write(mine, true);
    },
    release() {
      if (!sameLock(readLock(path), mine)) return;
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    },
  };
}
