import { Hono } from 'hono';
import type { AuditLog } from '../../gateway/audit.js';
import type { Store } from '../../store/db.js';
import { eventFilter, eventsResponse } from '../routes/observability.js';

/**
 * `GET /_emulator/flows`: audit events of every sandbox (`?sandbox=ID`, `outcome`, `action`, `phase`,
 * `cursor`, `limit`); `?follow=1` streams them as NDJSON, one event per line, as they happen.
 */
export function flowsRoutes(deps: { store: Store; audit: AuditLog }) {
  return new Hono().get('/flows', (c) => {
    const q = c.req.query();
    const filter = eventFilter(q, { limit: 100, max: 10_000 });
    return eventsResponse(c, deps, { ...filter, sandboxId: q.sandbox || q.sandbox_id || undefined }, 'raw');
  });
}
