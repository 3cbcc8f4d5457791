import { requestTeamId } from '../../control-plane/team-context.js';
import { Hono, type TypedResponse } from 'hono';
import type { AuditLog, NetworkAuditEvent } from '../../gateway/audit.js';
import type { Store } from '../../store/db.js';
import { okJson } from '../envelope.js';
import { eventFilter, eventsPage, eventsResponse } from '../routes/observability.js';
import { declaredQuery } from './typed-input.js';

/** The query parameters `GET /_emulator/flows` reads (the OpenAPI document describes each). */
export const flowsQueryParams = ['sandbox', 'sandbox_id', 'outcome', 'action', 'phase', 'event_type', 'start_time', 'end_time', 'cursor', 'limit', 'follow', 'watch'] as const;
export type FlowsQueryParam = (typeof flowsQueryParams)[number];

/** The query `GET /_emulator/flows` reads; `eventFilter` checks it (its messages are the API's). */
export type FlowsQuery = Partial<Record<FlowsQueryParam, string>>;

/**
 * `GET /_emulator/flows`: audit events of every sandbox (`?sandbox=ID`, `outcome`, `action`, `phase`,
 * `cursor`, `limit`); `?follow=1` streams them as NDJSON, one event per line, as they happen.
 */
export function flowsRoutes(deps: { store: Store; audit: AuditLog; tenants: { tokenOf(teamId: string): string | undefined } }) {
  return new Hono().get('/flows', declaredQuery<FlowsQuery>(), (c) => {
    const q = c.req.query();
    // A tenant sees its own flows; the emulator's own token sees every team's.
    const team = requestTeamId();
    const teamId = team && deps.tenants.tokenOf(team) ? team : undefined;
    const filter = { ...eventFilter(q, { limit: 100, max: 10_000 }), sandboxId: q.sandbox || q.sandbox_id || undefined, teamId };
    if (!filter.watch) return okJson(c, eventsPage<NetworkAuditEvent>(deps, filter));
    // NDJSON lines: text to a typed client, which reads the page form as JSON.
    return eventsResponse(c, deps, filter, 'raw') as Response & TypedResponse<string, 200, 'text'>;
  });
}
