import type { Database } from 'better-sqlite3';
import type { SecretBox } from './secret-box.js';

export const resolverKinds = [
  'static_headers',
  'static_tls_client_certificate',
  'static_username_password',
  'static_ssh_private_key',
] as const;
export type ResolverKind = (typeof resolverKinds)[number];

/** The secret part of a source; only ever held in memory decrypted, never returned by the API. */
export interface CredentialSourceSpec {
  staticHeaders?: { values?: Record<string, string> };
  staticTLSClientCertificate?: { certificatePem?: string; privateKeyPem?: string; caPem?: string };
  staticUsernamePassword?: { username?: string; password?: string };
  staticSSHPrivateKey?: { privateKeyPem?: string; passphrase?: string };
}

/** Upstream's read model (CredentialSourceMetadata). */
export interface CredentialSourceMetadata {
  name: string;
  resolverKind: string;
  currentVersion: number;
  status: string;
  createdAt: string;
  updatedAt: string;
}

export interface CredentialSourceRepository {
  get(teamId: string, name: string): CredentialSourceMetadata | undefined;
  list(teamId: string): CredentialSourceMetadata[];
  create(teamId: string, name: string, kind: string, spec: CredentialSourceSpec, now: string): CredentialSourceMetadata;
  /** Writes a new version and makes it current; returns the new metadata. */
  addVersion(teamId: string, name: string, spec: CredentialSourceSpec, now: string): CredentialSourceMetadata;
  /**
   * Drops the sealed versions nothing needs: every one but the current version and those a binding
   * is pinned to. Returns how many went.
   */
  pruneVersions(teamId: string, name: string): number;
  /** The decrypted spec of one version (for the gateway's credential resolution). */
  spec(teamId: string, name: string, version: number): CredentialSourceSpec | undefined;
  delete(teamId: string, name: string): void;
}

interface Row {
  name: string;
  resolver_kind: string;
  current_version: number;
  status: string;
  created_at: string;
  updated_at: string;
}

const fromRow = (r: Row): CredentialSourceMetadata => ({
  name: r.name,
  resolverKind: r.resolver_kind,
  currentVersion: r.current_version,
  status: r.status,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** Binds a sealed secret to where it belongs, so a row copied elsewhere does not decrypt. */
const aad = (teamId: string, name: string, version: number) => `${teamId}\u0000${name}\u0000${version}`;

export function createCredentialSourceRepository(db: Database, box: SecretBox): CredentialSourceRepository {
  const get = db.prepare<[string, string], Row>('SELECT * FROM credential_sources WHERE team_id = ? AND name = ?');
  const list = db.prepare<[string], Row>('SELECT * FROM credential_sources WHERE team_id = ? ORDER BY name');
  const insert = db.prepare(
    `INSERT INTO credential_sources (team_id, name, resolver_kind, current_version, status, created_at, updated_at)
     VALUES (?, ?, ?, 1, 'active', ?, ?)`,
  );
  const bump = db.prepare(
    'UPDATE credential_sources SET current_version = current_version + 1, updated_at = ? WHERE team_id = ? AND name = ?',
  );
  const insertVersion = db.prepare(
    'INSERT INTO credential_source_versions (team_id, name, version, sealed_spec, created_at) VALUES (?, ?, ?, ?, ?)',
  );
  const getVersion = db.prepare<[string, string, number], { sealed_spec: Buffer }>(
    'SELECT sealed_spec FROM credential_source_versions WHERE team_id = ? AND name = ? AND version = ?',
  );
  const prune = db.prepare(
    `DELETE FROM credential_source_versions
     WHERE team_id = @teamId AND name = @name
       AND version <> (SELECT current_version FROM credential_sources WHERE team_id = @teamId AND name = @name)
       AND version NOT IN (SELECT source_version FROM credential_bindings WHERE team_id = @teamId AND source_ref = @name)`,
  );
  const delSource = db.prepare('DELETE FROM credential_sources WHERE team_id = ? AND name = ?');
  const delVersions = db.prepare('DELETE FROM credential_source_versions WHERE team_id = ? AND name = ?');

  const seal = (teamId: string, name: string, version: number, spec: CredentialSourceSpec) =>
    box.seal(JSON.stringify(spec), aad(teamId, name, version));

  return {
    get(teamId, name) {
      const row = get.get(teamId, name);
      return row ? fromRow(row) : undefined;
    },
    list(teamId) {
      return list.all(teamId).map(fromRow);
    },
    create(teamId, name, kind, spec, now) {
      return db.transaction(() => {
        insert.run(teamId, name, kind, now, now);
        insertVersion.run(teamId, name, 1, seal(teamId, name, 1, spec), now);
        return fromRow(get.get(teamId, name)!);
      })();
    },
    addVersion(teamId, name, spec, now) {
      return db.transaction(() => {
        bump.run(now, teamId, name);
        const row = get.get(teamId, name)!;
        insertVersion.run(teamId, name, row.current_version, seal(teamId, name, row.current_version, spec), now);
        return fromRow(row);
      })();
    },
    pruneVersions(teamId, name) {
      return prune.run({ teamId, name }).changes;
    },
    spec(teamId, name, version) {
      const row = getVersion.get(teamId, name, version);
      return row ? (JSON.parse(box.open(row.sealed_spec, aad(teamId, name, version))) as CredentialSourceSpec) : undefined;
    },
    delete(teamId, name) {
      db.transaction(() => {
        delVersions.run(teamId, name);
        delSource.run(teamId, name);
      })();
    },
  };
}
