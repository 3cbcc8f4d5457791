import type { Database } from 'better-sqlite3';

export interface AuditEventFilter {
  sandboxId?: string;
  /** Only events of this team's sandboxes (a tenant's view). */
  teamId?: string;
  afterSeq?: number;
  startTime?: string;
  endTime?: string;
  eventType?: string;
  outcome?: string;
  action?: string;
  phase?: string;
  /** One flow's events (`operation_id`, the flow id); read on demand (the web view's flow story), not indexed. */
  operationId?: string;
  limit: number;
}

export interface StoredAuditEvent {
  seq: number;
  event: Record<string, unknown> & { sandbox_id: string; occurred_at: string };
  /** The event as stored (the audit log hashes it when it is read). */
  json: string;
}

export interface AuditEventRepository {
  /** Stores an event; `json` is its serialization when the caller already has it. */
  insert(event: StoredAuditEvent['event'] & { event_id: string; event_type: string; phase: string; outcome: string; action: string }, json?: string): number;
  list(filter: AuditEventFilter): StoredAuditEvent[];
  count(): number;
  clear(): void;
}

/**
 * Network audit events, bounded: once more than `maxEvents` are stored, the oldest are dropped (in
 * batches, so an insert stays cheap).
 */
export function createAuditEventRepository(db: Database, maxEvents = 100_000): AuditEventRepository {
  const insert = db.prepare(
    'INSERT INTO audit_events (event_id, sandbox_id, occurred_at, event_type, phase, outcome, action, event_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const count = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM audit_events');
  const trim = db.prepare('DELETE FROM audit_events WHERE seq <= ?');
  const pruneEvery = Math.max(1, Math.min(1000, Math.floor(maxEvents / 10)));
  let sinceTrim = 0;

  return {
    insert(e, json = JSON.stringify(e)) {
      const seq = Number(insert.run(e.event_id, e.sandbox_id, e.occurred_at, e.event_type, e.phase, e.outcome, e.action, json).lastInsertRowid);
      if (++sinceTrim >= pruneEvery) {
        sinceTrim = 0;
        trim.run(seq - maxEvents);
      }
      return seq;
    },
    list(f) {
      const where: string[] = [];
      const params: Record<string, unknown> = { limit: f.limit };
      const add = (clause: string, key: string, value: unknown) => {
        if (value === undefined) return;
        where.push(clause);
        params[key] = value;
      };
      add('sandbox_id = @sandboxId', 'sandboxId', f.sandboxId);
      add("json_extract(event_json, '$.team_id') = @teamId", 'teamId', f.teamId);
      add('seq > @afterSeq', 'afterSeq', f.afterSeq);
      add('occurred_at >= @startTime', 'startTime', f.startTime);
      add('occurred_at <= @endTime', 'endTime', f.endTime);
      add('event_type = @eventType', 'eventType', f.eventType);
      add('outcome = @outcome', 'outcome', f.outcome);
      add('action = @action', 'action', f.action);
      add('phase = @phase', 'phase', f.phase);
      add("json_extract(event_json, '$.operation_id') = @operationId", 'operationId', f.operationId);
      const sql = `SELECT seq, event_json FROM audit_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq LIMIT @limit`;
      return (db.prepare(sql).all(params) as { seq: number; event_json: string }[]).map((r) => ({ seq: r.seq, event: JSON.parse(r.event_json), json: r.event_json }));
    },
    count: () => count.get()!.n,
    clear() {
      db.exec('DELETE FROM audit_events');
    },
  };
}
