import { Hono } from 'hono';
import { ApiError } from '../error-status.js';
import { fail, ok } from '../envelope.js';

/** `GET /healthz` and `GET /readyz` (no auth), as upstream regional-gateway. */
export function healthRoutes(deps: { databaseHealthy: () => boolean }) {
  const unixNow = () => Math.floor(Date.now() / 1000);
  return new Hono()
    .get('/healthz', (c) => ok(c, { status: 'healthy', timestamp: unixNow() }))
    .get('/readyz', (c) =>
      deps.databaseHealthy()
        ? ok(c, { status: 'ready', timestamp: unixNow() })
        : fail(c, new ApiError('unavailable', 'database unavailable', { status: 'not ready' })),
    );
}
