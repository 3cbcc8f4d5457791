import type { Database } from 'better-sqlite3';

/**
 * Versioned migrations: `PRAGMA user_version` holds the number of the last one applied. Append new
 * migrations; never edit one that has shipped.
 */
export interface Migration {
  version: number;
  name: string;
  up(db: Database): void;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    up(db) {
      db.exec(`
        CREATE TABLE sandboxes (
          id TEXT PRIMARY KEY,
          team_id TEXT NOT NULL,
          user_id TEXT NOT NULL,
          template_id TEXT NOT NULL,
          status TEXT NOT NULL,
          paused INTEGER NOT NULL DEFAULT 0,
          auto_resume INTEGER NOT NULL DEFAULT 1,
          pod_name TEXT NOT NULL,
          runtime_generation INTEGER NOT NULL DEFAULT 1,
          config_json TEXT NOT NULL DEFAULT '{}',
          network_json TEXT,
          network_hash TEXT,
          seq INTEGER NOT NULL,
          claimed_at TEXT NOT NULL,
          created_at TEXT NOT NULL,
          updated_at TEXT NOT NULL
        );
        CREATE INDEX sandboxes_team ON sandboxes(team_id, seq);

        CREATE TABLE credential_sources (
          team_id TEXT NOT NULL,
          name TEXT NOT NULL,
          resolver_kind TEXT NOT NULL,
          current_version INTEGER NOT NULL,
          status TEXT NOT NULL DEFAULT 'active',
          created_at TEXT NOT NULL,
          updated_at TEXT NOT NULL,
          PRIMARY KEY (team_id, name)
        );

        CREATE TABLE credential_source_versions (
          team_id TEXT NOT NULL,
          name TEXT NOT NULL,
          version INTEGER NOT NULL,
          sealed_spec BLOB NOT NULL,
          created_at TEXT NOT NULL,
          PRIMARY KEY (team_id, name, version)
        );

        CREATE TABLE credential_bindings (
          sandbox_id TEXT NOT NULL,
          team_id TEXT NOT NULL,
          ref TEXT NOT NULL,
          source_ref TEXT NOT NULL,
          source_version INTEGER NOT NULL,
          binding_json TEXT NOT NULL,
          PRIMARY KEY (sandbox_id, ref)
        );
        CREATE INDEX credential_bindings_source ON credential_bindings(team_id, source_ref);
      `);
    },
  },
  {
    version: 2,
    name: 'audit-events',
    up(db) {
      db.exec(`
        CREATE TABLE audit_events (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          event_id TEXT NOT NULL,
          sandbox_id TEXT NOT NULL,
          occurred_at TEXT NOT NULL,
          event_type TEXT NOT NULL,
          phase TEXT NOT NULL,
          outcome TEXT NOT NULL,
          action TEXT NOT NULL,
          event_json TEXT NOT NULL
        );
        CREATE INDEX audit_events_sandbox ON audit_events(sandbox_id, seq);
      `);
    },
  },
  {
    version: 3,
    name: 'sandbox-hosts',
    up(db) {
      // Sandbox-side hosts entries (PUT /_emulator/sandboxes/{id}/hosts): name → addresses.
      db.exec(`ALTER TABLE sandboxes ADD COLUMN hosts_json TEXT NOT NULL DEFAULT '{}'`);
    },
  },
];

export function migrate(db: Database): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  const pending = migrations.filter((m) => m.version > current);
  for (const m of pending) {
    db.transaction(() => {
      m.up(db);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
  return pending.length ? pending[pending.length - 1]!.version : current;
}
