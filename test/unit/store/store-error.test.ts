import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { asStoreUnavailable, StoreUnavailableError, unavailableReason } from '../../../src/store/store-error.js';

describe('store errors: the database condition behind an SQLite code', () => {
  it('names busy, full, read-only and I/O conditions by their primary code', () => {
    expect(unavailableReason('SQLITE_BUSY')).toBe('busy');
    expect(unavailableReason('SQLITE_BUSY_SNAPSHOT')).toBe('busy');
    expect(unavailableReason('SQLITE_LOCKED')).toBe('busy');
    expect(unavailableReason('SQLITE_FULL')).toBe('full');
    expect(unavailableReason('SQLITE_READONLY_DBMOVED')).toBe('readonly');
    expect(unavailableReason('SQLITE_IOERR_WRITE')).toBe('io');
  });

  it('leaves codes that mean a bug alone', () => {
    for (const code of ['SQLITE_CONSTRAINT_PRIMARYKEY', 'SQLITE_ERROR', 'SQLITE_MISUSE', 'SQLITE_CORRUPT', 'SQLITE_BUSYNESS_X', 'not sqlite']) {
      expect(unavailableReason(code), code).toBeUndefined();
    }
  });

  it('turns an SqliteError into a typed error with a stable code and message', () => {
    const e = asStoreUnavailable(new BetterSqlite3.SqliteError('database or disk is full', 'SQLITE_FULL'));
    expect(e).toBeInstanceOf(StoreUnavailableError);
    expect(e).toMatchObject({ code: 'store_full', reason: 'full', sqliteCode: 'SQLITE_FULL', message: 'database or disk is full' });
    expect(asStoreUnavailable(new BetterSqlite3.SqliteError('UNIQUE constraint failed', 'SQLITE_CONSTRAINT_UNIQUE'))).toBeUndefined();
    expect(asStoreUnavailable(new Error('SQLITE_BUSY'))).toBeUndefined();
  });
});
