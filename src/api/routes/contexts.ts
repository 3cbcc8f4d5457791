import { Hono } from 'hono';
import { z } from 'zod';
import type { SandboxService } from '../../control-plane/sandboxes.js';
import { ApiError } from '../error-status.js';
import type { ContextService, CreateContextRequest } from '../../sandbox/contexts.js';
import { ok } from '../envelope.js';
import { readBodyText } from '../body.js';

const createBody = z.object({
  type: z.string().optional(),
  cmd: z.object({ command: z.array(z.string()).optional() }).optional(),
  repl: z.unknown().optional(),
  wait_until_done: z.boolean().optional(),
  cwd: z.string().optional(),
  env_vars: z.record(z.string(), z.string()).optional(),
  pty_size: z.object({ rows: z.number().int().optional(), cols: z.number().int().optional() }).optional(),
  idle_timeout_sec: z.number().int().optional(),
  ttl_sec: z.number().int().optional(),
});

/** `POST|GET /api/v1/sandboxes/{id}/contexts`, `GET|DELETE /api/v1/sandboxes/{id}/contexts/{ctx_id}` (procd's codes). */
export function contextRoutes(deps: { sandboxes: SandboxService; contexts: ContextService }) {
  const { sandboxes, contexts } = deps;
  return new Hono()
    .post('/api/v1/sandboxes/:id/contexts', async (c) => {
      const id = c.req.param('id');
      sandboxes.get(id);
      let raw: unknown;
      try {
        raw = JSON.parse(await readBodyText(c));
      } catch (err) {
        if (err instanceof ApiError) throw err;
        throw new ApiError('invalid_request', 'invalid request body');
      }
      const parsed = createBody.safeParse(raw);
      if (!parsed.success) throw new ApiError('invalid_request', `invalid request body: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      return ok(c, await contexts.create(id, parsed.data as CreateContextRequest), 201);
    })
    .get('/api/v1/sandboxes/:id/contexts', (c) => {
      const id = c.req.param('id');
      sandboxes.get(id);
      return ok(c, { contexts: contexts.list(id) });
    })
    .get('/api/v1/sandboxes/:id/contexts/:ctx', (c) => {
      sandboxes.get(c.req.param('id'));
      return ok(c, contexts.get(c.req.param('id'), c.req.param('ctx')));
    })
    .delete('/api/v1/sandboxes/:id/contexts/:ctx', (c) => {
      sandboxes.get(c.req.param('id'));
      contexts.delete(c.req.param('id'), c.req.param('ctx'));
      return ok(c, { deleted: true });
    });
}
