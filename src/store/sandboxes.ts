import type { Database } from 'better-sqlite3';
import type { SandboxNetworkPolicy } from '../policy/types.js';

export type SandboxStatus = 'starting' | 'running' | 'paused' | 'terminating' | 'failed';
export const sandboxStatuses: readonly SandboxStatus[] = ['starting', 'running', 'paused', 'terminating', 'failed'];

export interface SandboxRecord {
  id: string;
  teamId: string;
  userId: string;
  templateId: string;
  status: SandboxStatus;
  paused: boolean;
  autoResume: boolean;
  podName: string;
  runtimeGeneration: number;
  /** The sanitized claim config (network without bindings), as upstream persists it. */
  config: Record<string, unknown>;
  /** The effective (template-merged) policy without bindings: upstream's pod annotation. */
  network: SandboxNetworkPolicy | undefined;
  networkHash: string | undefined;
  /** Sandbox-side hosts entries (name → addresses), the emulator's `/etc/hosts` for the sandbox. */
  hosts: Record<string, string[]>;
  claimedAt: string;
  createdAt: string;
  updatedAt: string;
}

export interface SandboxListFilter {
  teamId: string;
  status?: SandboxStatus;
  templateId?: string;
  paused?: boolean;
  limit: number;
  offset: number;
}

export interface SandboxRepository {
  insert(record: SandboxRecord): void;
  get(id: string): SandboxRecord | undefined;
  list(filter: SandboxListFilter): { sandboxes: SandboxRecord[]; count: number };
  setNetwork(id: string, network: SandboxNetworkPolicy, hash: string, config: Record<string, unknown>, updatedAt: string): void;
  setHosts(id: string, hosts: Record<string, string[]>, updatedAt: string): void;
  delete(id: string): boolean;
  ids(): string[];
}

interface Row {
  id: string;
  team_id: string;
  user_id: string;
  template_id: string;
  status: string;
  paused: number;
  auto_resume: number;
  pod_name: string;
  runtime_generation: number;
  config_json: string;
  network_json: string | null;
  network_hash: string | null;
  hosts_json: string;
  claimed_at: string;
  created_at: string;
  updated_at: string;
}

const fromRow = (r: Row): SandboxRecord => ({
  id: r.id,
  teamId: r.team_id,
  userId: r.user_id,
  templateId: r.template_id,
  status: r.status as SandboxStatus,
  paused: r.paused !== 0,
  autoResume: r.auto_resume !== 0,
  podName: r.pod_name,
  runtimeGeneration: r.runtime_generation,
  config: JSON.parse(r.config_json) as Record<string, unknown>,
  network: r.network_json === null ? undefined : (JSON.parse(r.network_json) as SandboxNetworkPolicy),
  networkHash: r.network_hash ?? undefined,
  hosts: JSON.parse(r.hosts_json) as Record<string, string[]>,
  claimedAt: r.claimed_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export function createSandboxRepository(db: Database): SandboxRepository {
  const insert = db.prepare(`INSERT INTO sandboxes
    (id, team_id, user_id, template_id, status, paused, auto_resume, pod_name, runtime_generation, config_json,
     network_json, network_hash, hosts_json, seq, claimed_at, created_at, updated_at)
    VALUES (@id, @team_id, @user_id, @template_id, @status, @paused, @auto_resume, @pod_name, @runtime_generation,
     @config_json, @network_json, @network_hash, @hosts_json, (SELECT COALESCE(MAX(seq), 0) + 1 FROM sandboxes), @claimed_at, @created_at, @updated_at)`);
  const get = db.prepare<[string], Row>('SELECT * FROM sandboxes WHERE id = ?');
  const setNetwork = db.prepare(
    'UPDATE sandboxes SET network_json = ?, network_hash = ?, config_json = ?, updated_at = ? WHERE id = ?',
  );
  const setHosts = db.prepare('UPDATE sandboxes SET hosts_json = ?, updated_at = ? WHERE id = ?');
  const del = db.prepare('DELETE FROM sandboxes WHERE id = ?');
  const ids = db.prepare<[], { id: string }>('SELECT id FROM sandboxes ORDER BY seq');

  return {
    insert(r) {
      insert.run({
        id: r.id,
        team_id: r.teamId,
        user_id: r.userId,
        template_id: r.templateId,
        status: r.status,
        paused: r.paused ? 1 : 0,
        auto_resume: r.autoResume ? 1 : 0,
        pod_name: r.podName,
        runtime_generation: r.runtimeGeneration,
        config_json: JSON.stringify(r.config),
        network_json: r.network === undefined ? null : JSON.stringify(r.network),
        network_hash: r.networkHash ?? null,
        hosts_json: JSON.stringify(r.hosts),
        claimed_at: r.claimedAt,
        created_at: r.createdAt,
        updated_at: r.updatedAt,
      });
    },
    get(id) {
      const row = get.get(id);
      return row ? fromRow(row) : undefined;
    },
    list(f) {
      const where = ['team_id = @teamId'];
      const params: Record<string, unknown> = { teamId: f.teamId, limit: f.limit, offset: f.offset };
      if (f.status !== undefined) {
        where.push('status = @status');
        params.status = f.status;
      }
      if (f.templateId !== undefined) {
        where.push('template_id = @templateId');
        params.templateId = f.templateId;
      }
      if (f.paused !== undefined) {
        where.push('paused = @paused');
        params.paused = f.paused ? 1 : 0;
      }
      const clause = where.join(' AND ');
      const count = (db.prepare(`SELECT COUNT(*) AS n FROM sandboxes WHERE ${clause}`).get(params) as { n: number }).n;
      const rows = db.prepare(`SELECT * FROM sandboxes WHERE ${clause} ORDER BY seq LIMIT @limit OFFSET @offset`).all(params) as Row[];
      return { sandboxes: rows.map(fromRow), count };
    },
    setNetwork(id, network, hash, config, updatedAt) {
      setNetwork.run(JSON.stringify(network), hash, JSON.stringify(config), updatedAt, id);
    },
    setHosts(id, hosts, updatedAt) {
      setHosts.run(JSON.stringify(hosts), updatedAt, id);
    },
    delete(id) {
      return del.run(id).changes > 0;
    },
    ids() {
      return ids.all().map((r) => r.id);
    },
  };
}
