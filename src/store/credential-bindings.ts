import type { Database } from 'better-sqlite3';
import type { CredentialBinding } from '../policy/types.js';

/** A sandbox's binding, pinned to the credential-source version that was current when it was stored. */
export interface StoredBinding {
  sandboxId: string;
  binding: CredentialBinding;
  sourceVersion: number;
}

export interface CredentialBindingRepository {
  /** The sandbox's bindings sorted by ref (upstream's binding store order). */
  forSandbox(sandboxId: string): StoredBinding[];
  /** Replaces all bindings of a sandbox. */
  replace(sandboxId: string, teamId: string, bindings: { binding: CredentialBinding; sourceVersion: number }[]): void;
  /** Re-pins every binding that uses the source to `version` (a source update). */
  repin(teamId: string, sourceRef: string, version: number): number;
  /** Whether any binding of any sandbox references the source. */
  referenced(teamId: string, sourceRef: string): boolean;
  deleteForSandbox(sandboxId: string): void;
}

export function createCredentialBindingRepository(db: Database): CredentialBindingRepository {
  const forSandbox = db.prepare<[string], { sandbox_id: string; binding_json: string; source_version: number }>(
    'SELECT sandbox_id, binding_json, source_version FROM credential_bindings WHERE sandbox_id = ? ORDER BY ref',
  );
  const insert = db.prepare(
    'INSERT INTO credential_bindings (sandbox_id, team_id, ref, source_ref, source_version, binding_json) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const del = db.prepare('DELETE FROM credential_bindings WHERE sandbox_id = ?');
  const repin = db.prepare('UPDATE credential_bindings SET source_version = ? WHERE team_id = ? AND source_ref = ?');
  const referenced = db.prepare('SELECT 1 FROM credential_bindings WHERE team_id = ? AND source_ref = ? LIMIT 1');

  return {
    forSandbox(sandboxId) {
      return forSandbox.all(sandboxId).map((r) => ({
        sandboxId: r.sandbox_id,
        binding: JSON.parse(r.binding_json) as CredentialBinding,
        sourceVersion: r.source_version,
      }));
    },
    replace(sandboxId, teamId, bindings) {
      db.transaction(() => {
        del.run(sandboxId);
        for (const { binding, sourceVersion } of bindings) {
          insert.run(sandboxId, teamId, binding.ref, binding.sourceRef, sourceVersion, JSON.stringify(binding));
        }
      })();
    },
    repin(teamId, sourceRef, version) {
      return repin.run(version, teamId, sourceRef).changes;
    },
    referenced(teamId, sourceRef) {
      return referenced.get(teamId, sourceRef) !== undefined;
    },
    deleteForSandbox(sandboxId) {
      del.run(sandboxId);
    },
  };
}
