import { Hono, type Context } from 'hono';
import type { SandboxService } from '../../control-plane/sandboxes.js';
import { ApiError } from '../error-status.js';
import type { AuditLog } from '../../gateway/audit.js';
import type { Store } from '../../store/db.js';
import type { AuditEventFilter } from '../../store/audit-events.js';
import { ok } from '../envelope.js';
import { ndjson } from '../ndjson.js';

const eventTypes = ['lifecycle', 'network_audit', 'runtime_stats', 'api_access', 'process', 'file'];
const outcomes = ['completed', 'denied', 'error', 'succeeded', 'failed', 'accepted', 'unknown'];

export const encodeCursor = (seq: number) => Buffer.from(JSON.stringify({ seq })).toString('base64url');
export function decodeCursor(cursor: string): number {
  try {
    const { seq } = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as { seq: unknown };
    if (typeof seq === 'number' && Number.isInteger(seq) && seq >= 0) return seq;
  } catch {
    // fall through
  }
  throw new ApiError('bad_request', 'invalid cursor');
}

function rfc3339(value: string | undefined, name: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new ApiError('bad_request', `invalid ${name}: must be an RFC3339 timestamp`);
  return d.toISOString();
}

/** Query parameters shared by the Sandbox0 events API and `/_emulator/flows`. */
export function eventFilter(q: Record<string, string>, defaults: { limit: number; max: number }): AuditEventFilter & { watch: boolean } {
  if (q.event_type && !eventTypes.includes(q.event_type)) throw new ApiError('bad_request', `invalid event_type: ${q.event_type}`);
  if (q.outcome && !outcomes.includes(q.outcome)) throw new ApiError('bad_request', `invalid outcome: ${q.outcome}`);
  let limit = defaults.limit;
  if (q.limit !== undefined && q.limit !== '') {
    if (!/^\d+$/.test(q.limit) || Number(q.limit) < 1) throw new ApiError('bad_request', 'invalid limit: must be a positive integer');
    limit = Math.min(Number(q.limit), defaults.max);
  }
  const watch = q.watch === 'true' || q.watch === '1' || q.follow === 'true' || q.follow === '1';
  if (watch && q.end_time) throw new ApiError('bad_request', 'end_time is not supported when watch is true');
  return {
    limit,
    watch,
    afterSeq: q.cursor ? decodeCursor(q.cursor) : undefined,
    startTime: rfc3339(q.start_time, 'start_time'),
    endTime: rfc3339(q.end_time, 'end_time'),
    eventType: q.event_type || undefined,
    outcome: q.outcome || undefined,
    action: q.action || undefined,
    phase: q.phase || undefined,
  };
}

/** One page of events: `next_cursor` when the page is full, `watermark` when it is not empty. */
export function eventsPage<E = unknown>(deps: { audit: AuditLog }, filter: AuditEventFilter): { events: E[]; next_cursor?: string; watermark?: string } {
  const rows = deps.audit.list(filter);
  const last = rows[rows.length - 1];
  const data: { events: E[]; next_cursor?: string; watermark?: string } = { events: rows.map((r) => r.event as E) };
  if (last && rows.length === filter.limit) data.next_cursor = encodeCursor(last.seq);
  if (last) data.watermark = encodeCursor(last.seq);
  return data;
}

/** Events as a page, or (watch) as an NDJSON stream in upstream's watch-line format. */
export function eventsResponse(c: Context, deps: { store: Store; audit: AuditLog }, filter: AuditEventFilter & { watch: boolean }, lineFormat: 'watch-lines' | 'raw') {
  if (!filter.watch) return ok(c, eventsPage(deps, filter));
  const matches = (e: { sandbox_id: string; event_type?: unknown; outcome?: unknown; action?: unknown; phase?: unknown }) =>
    (!filter.sandboxId || e.sandbox_id === filter.sandboxId) &&
    (!filter.teamId || (e as { team_id?: unknown }).team_id === filter.teamId) &&
    (!filter.eventType || e.event_type === filter.eventType) &&
    (!filter.outcome || e.outcome === filter.outcome) &&
    (!filter.action || e.action === filter.action) &&
    (!filter.phase || e.phase === filter.phase);
  const emit = (send: (l: unknown) => void, event: unknown, seq: number) =>
    lineFormat === 'raw' ? send(event) : (send({ type: 'event', data: event }), send({ type: 'watermark', cursor: encodeCursor(seq), watermark: encodeCursor(seq) }));
  return ndjson(
    c,
    (send) => {
      // This runs synchronously, so no event can be recorded between the backlog replay and the
      // subscription: nothing is lost or sent twice.
      if (filter.afterSeq !== undefined || filter.startTime !== undefined) {
        let afterSeq = filter.afterSeq;
        for (let page = 0; page < 1000; page++) {
          const rows = deps.audit.list({ ...filter, afterSeq, limit: 1000 });
          for (const r of rows) emit(send, r.event, r.seq);
          if (rows.length < 1000) break;
          afterSeq = rows[rows.length - 1]!.seq;
        }
      }
      return deps.audit.subscribe((event, seq) => {
        if (matches(event)) emit(send, event, seq);
      });
    },
    lineFormat === 'raw' ? undefined : () => ({ type: 'heartbeat', time: new Date().toISOString() }),
  );
}

export function observabilityRoutes(deps: { store: Store; audit: AuditLog; sandboxes: SandboxService }) {
  return new Hono().get('/api/v1/sandboxes/:id/observability/events', (c) => {
    const sandboxId = c.req.param('id');
    const filter = eventFilter(c.req.query(), { limit: 100, max: 1000 });
    deps.sandboxes.get(sandboxId); // upstream's 404 for an unknown sandbox
    return eventsResponse(c, deps, { ...filter, sandboxId }, 'watch-lines');
  });
}
