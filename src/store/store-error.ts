import BetterSqlite3 from 'better-sqlite3';
import { EmulatorError } from '../errors.js';

/**
 * The database refusing work because of its condition, not because of a bug: another connection holds
 * the write lock past the busy timeout, the disk (or the database) is full, the file became read-only
 * or an I/O error. SQLite rolls the statement or transaction back, so nothing is half-written; the
 * caller can retry later. The API answers 503 `unavailable` with `message` (one table, at the edge).
 */
export type StoreUnavailableReason = 'busy' | 'full' | 'readonly' | 'io';

const messages: Record<StoreUnavailableReason, string> = {
  busy: 'database is busy, try again',
  // SQLite's own wording for SQLITE_FULL, kept because users search for it.
  full: 'database or disk is full',
  readonly: 'database is read-only',
  io: 'database I/O error',
};

export class StoreUnavailableError extends EmulatorError {
  readonly reason: StoreUnavailableReason;
  /** The SQLite extended result code, e.g. `SQLITE_BUSY` or `SQLITE_IOERR_WRITE`. */
  readonly sqliteCode: string;

  constructor(reason: StoreUnavailableReason, sqliteCode: string, options?: { cause?: unknown }) {
    super(`store_${reason}`, messages[reason], options);
    this.name = 'StoreUnavailableError';
    this.reason = reason;
    this.sqliteCode = sqliteCode;
  }
}

/** The reason behind an SQLite result code, or undefined for codes that mean a bug (constraint, misuse, ...). */
export function unavailableReason(sqliteCode: string): StoreUnavailableReason | undefined {
  const primary = /^SQLITE_[A-Z]+/.exec(sqliteCode)?.[0];
  switch (primary) {
    case 'SQLITE_BUSY':
    case 'SQLITE_LOCKED':
      return 'busy';
    case 'SQLITE_FULL':
      return 'full';
    case 'SQLITE_READONLY':
      return 'readonly';
    case 'SQLITE_IOERR':
      return 'io';
    default:
      return undefined;
  }
}

/** `err` as a `StoreUnavailableError` when it is one or an SQLite error with such a code; else undefined. */
export function asStoreUnavailable(err: unknown): StoreUnavailableError | undefined {
  if (err instanceof StoreUnavailableError) return err;
  if (!(err instanceof BetterSqlite3.SqliteError)) return undefined;
  const reason = unavailableReason(err.code);
  return reason ? new StoreUnavailableError(reason, err.code, { cause: err }) : undefined;
}
