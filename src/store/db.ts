import BetterSqlite3, { type Database, type Statement, type Transaction } from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { mkdirSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { migrate } from './migrations/index.js';
import { createSecretBox, loadOrCreateKey, type SecretBox } from './secret-box.js';
import { asStoreUnavailable, type StoreUnavailableError } from './store-error.js';
import { createSandboxRepository, type SandboxRepository } from './sandboxes.js';
import { createCredentialSourceRepository, type CredentialSourceRepository } from './credential-sources.js';
import { createCredentialBindingRepository, type CredentialBindingRepository } from './credential-bindings.js';
import { createAuditEventRepository, type AuditEventRepository } from './audit-events.js';
import { startWalCheckpointer, type WalCheckpointer } from './wal-checkpointer.js';
import { nativeBindingError } from './native-binding.js';

export type StoreLocation = { kind: 'memory' } | { kind: 'dir'; dataDir: string };

export interface Store {
  readonly location: StoreLocation;
  readonly db: Database;
  readonly sandboxes: SandboxRepository;
  readonly credentialSources: CredentialSourceRepository;
  readonly bindings: CredentialBindingRepository;
  readonly auditEvents: AuditEventRepository;
  /**
   * Runs `fn` in one transaction (better-sqlite3 transactions are synchronous). It begins IMMEDIATE:
   * the write lock is taken up front, under the busy timeout. A deferred transaction that reads first
   * fails at once (SQLITE_BUSY_SNAPSHOT) when another connection committed before its first write.
   */
  transaction<T>(fn: () => T): T;
  /**
   * True while the database answers a trivial query and can be written: after a write failed for the
   * storage's condition (disk full, read-only, I/O error) it is false until a write succeeds again; a
   * small write probe (net no change, only while failing) finds out when nothing else writes.
   */
  healthy(): boolean;
  /** Deletes every sandbox, binding, credential source and audit event (`POST /_emulator/reset`). */
  clear(): void;
  /** The same for one team only (a tenant's reset). */
  clearTeam(teamId: string): void;
  /** With a data dir: the thread that checkpoints the WAL (automatic checkpoints are off). */
  readonly checkpointer?: WalCheckpointer;
  /** Closes the database at once; resolves when the checkpoint thread has finished too. */
  close(): Promise<void>;
}

export const databaseFile = 'emulator.db';
export const keyFile = 'secrets.key';

/** Free space the data dir's file system needs before a disk-full failure counts as over. */
const minFreeBytesAfterFull = 1024 * 1024;

/** SQLite's own default, restored if the checkpoint thread dies. */
const defaultAutoCheckpointPages = 1000;

/** The database, or an error naming the fix when better-sqlite3's native binding is missing. */
function openDatabase(file: string): Database {
  try {
    return new BetterSqlite3(file);
  } catch (err) {
    throw nativeBindingError(err) ?? err;
  }
}

/** The database connection (WAL and a checkpoint thread with a data dir), migrated, and its secret box. */
function openConnection(location: StoreLocation, checkpointIntervalMs: number | undefined): { db: Database; box: SecretBox; checkpointer?: WalCheckpointer } {
  if (location.kind === 'memory') {
    const db = openDatabase(':memory:');
    db.pragma('foreign_keys = ON');
    migrate(db);
    return { db, box: createSecretBox(randomBytes(32)) };
  }
  mkdirSync(location.dataDir, { recursive: true, mode: 0o700 });
  const db = openDatabase(join(location.dataDir, databaseFile));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  const box = createSecretBox(loadOrCreateKey(join(location.dataDir, keyFile)));
  // Checkpoints (page copies and an fsync) run on a worker thread, never inside a commit on the event loop.
  db.pragma('wal_autocheckpoint = 0');
  const checkpointer = startWalCheckpointer(join(location.dataDir, databaseFile), {
    intervalMs: checkpointIntervalMs,
    onFailure: () => {
      if (db.open) db.pragma(`wal_autocheckpoint = ${defaultAutoCheckpointPages}`);
    },
  });
  db.pragma('foreign_keys = ON');
  migrate(db);
  return { db, box, checkpointer };
}

/**
 * Whether the storage takes writes: the failure of the last write that failed (disk full, read-only,
 * I/O error), until a write commits again; a write probe (net no change) finds out when nothing else writes.
 */
class WriteHealth {
  /** The storage failure of the last write that failed, until a write commits again. */
  private writeFailure: StoreUnavailableError | undefined;
  private readonly ping: Statement;
  private readonly totalChanges: Statement;
  private readonly writeProbe: Transaction<() => void>;

  constructor(
    private readonly db: Database,
    private readonly location: StoreLocation,
  ) {
    this.ping = db.prepare('SELECT 1');
    this.totalChanges = db.prepare('SELECT total_changes()').pluck();
    // A row nobody can see (inserted and deleted in one transaction): its commit needs the disk as any write does.
    const probeInsert = db.prepare("INSERT INTO credential_bindings (sandbox_id, team_id, ref, source_ref, source_version, binding_json) VALUES (?, '', '', '', 0, '')");
    const probeDelete = db.prepare('DELETE FROM credential_bindings WHERE sandbox_id = ?');
    const probeId = '\u0000store-health-probe';
    this.writeProbe = db.transaction(() => {
      probeInsert.run(probeId);
      probeDelete.run(probeId);
    });
  }

  /**
   * After a disk-full failure a small write can still commit into WAL space already allocated, so
   * "full" ends only when the file system has room again as well.
   */
  private hasRoom(): boolean {
    if (this.location.kind !== 'dir') return true;
    try {
      const fs = statfsSync(this.location.dataDir);
      return fs.bavail * fs.bsize >= minFreeBytesAfterFull;
    } catch {
      return true;
    }
  }

  /** Runs a write, remembering whether the storage took it (a busy lock says nothing about the storage). */
  tracked<T>(write: () => T): T {
    const before = this.writeFailure ? (this.totalChanges.get() as number) : 0;
    try {
      const result = write();
      if (this.writeFailure && (this.totalChanges.get() as number) !== before && (this.writeFailure.reason !== 'full' || this.hasRoom())) this.writeFailure = undefined;
      return result;
    } catch (err) {
      const unavailable = asStoreUnavailable(err);
      if (unavailable && unavailable.reason !== 'busy') this.writeFailure = unavailable;
      throw err;
    }
  }

  healthy(): boolean {
    try {
      if (!this.db.open || this.ping.get() === undefined) return false;
    } catch {
      return false;
    }
    if (this.writeFailure) {
      try {
        this.tracked(() => this.writeProbe.immediate());
      } catch {
        // still failing: writeFailure holds why
      }
    }
    return this.writeFailure === undefined;
  }
}

export function openStore(
  location: StoreLocation,
  { maxAuditEvents = 100_000, checkpointIntervalMs }: { maxAuditEvents?: number; checkpointIntervalMs?: number } = {},
): Store {
  const { db, box, checkpointer } = openConnection(location, checkpointIntervalMs);
  const health = new WriteHealth(db, location);
  return {
    location,
    db,
    sandboxes: createSandboxRepository(db),
    credentialSources: createCredentialSourceRepository(db, box),
    bindings: createCredentialBindingRepository(db),
    auditEvents: createAuditEventRepository(db, maxAuditEvents),
    transaction: (fn) => health.tracked(() => db.transaction(fn).immediate()),
    healthy: () => health.healthy(),
    clear() {
      health.tracked(() =>
        db.transaction(() => {
          db.exec('DELETE FROM credential_bindings; DELETE FROM sandboxes; DELETE FROM credential_source_versions; DELETE FROM credential_sources; DELETE FROM audit_events;');
        })(),
      );
    },
    clearTeam(teamId) {
      db.transaction(() => {
        db.prepare("DELETE FROM audit_events WHERE json_extract(event_json, '$.team_id') = ?").run(teamId);
        for (const table of ['credential_bindings', 'sandboxes', 'credential_source_versions', 'credential_sources']) {
          db.prepare(`DELETE FROM ${table} WHERE team_id = ?`).run(teamId);
        }
      })();
    },
    checkpointer,
    close() {
      // The checkpoint thread's connection closes last, so its final checkpoint empties the WAL.
      const stopped = checkpointer?.stop() ?? Promise.resolve();
      if (db.open) db.close();
      return stopped;
    },
  };
}
