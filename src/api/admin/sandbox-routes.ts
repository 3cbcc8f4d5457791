import { Hono } from 'hono';
import { z } from 'zod';
import type { SandboxService } from '../../control-plane/sandboxes.js';
import { validatePlatformRecords, type PlatformDnsView } from '../../dns/views.js';
import { ApiError } from '../../errors.js';
import { dryRun } from '../../gateway/dry-run.js';
import type { Decider } from '../../gateway/decide.js';
import { appProtocols } from '../../policy/types.js';
import type { SandboxRuntime } from '../../sandbox/runtime.js';
import { ok } from '../envelope.js';

async function jsonBody(req: Request): Promise<unknown> {
  try {
    return await req.json();
  } catch {
    throw new ApiError('bad_request', 'request body must be JSON');
  }
}

const issues = (e: z.ZodError) => e.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');

const evaluateBody = z
  .object({
    host: z.string().min(1).max(253).optional(),
    ip: z.string().refine((s) => /^[0-9a-fA-F.:]+$/.test(s), 'must be an IP address').optional(),
    port: z.number().int().min(1).max(65535),
    transport: z.enum(['tcp', 'udp']).optional(),
    appProtocol: z.enum(appProtocols).optional(),
  })
  .refine((b) => b.host !== undefined || b.ip !== undefined, 'host or ip is required');

const hostsBody = z.object({ hosts: z.record(z.string().min(1).max(253), z.array(z.string().refine((s) => /^[0-9a-fA-F.:]+$/.test(s), 'must be an IP address')).min(1)) });

/** `/_emulator/sandboxes/{id}[/hosts|/evaluate]` and `/_emulator/dns/platform`, relative to `/_emulator`. */
export function sandboxAdminRoutes(deps: { sandboxes: SandboxService; runtime: SandboxRuntime; decide: Decider; platformDns: PlatformDnsView }) {
  const { sandboxes, runtime, decide, platformDns } = deps;
  return new Hono()
    .get('/sandboxes/:id', (c) => {
      sandboxes.get(c.req.param('id'));
      return ok(c, runtime.view(c.req.param('id')));
    })
    .put('/sandboxes/:id/hosts', async (c) => {
      const id = c.req.param('id');
      sandboxes.get(id);
      const parsed = hostsBody.safeParse(await jsonBody(c.req.raw));
      if (!parsed.success) throw new ApiError('bad_request', issues(parsed.error));
      runtime.setHosts(id, parsed.data.hosts);
      return ok(c, { hosts: parsed.data.hosts });
    })
    .post('/sandboxes/:id/evaluate', async (c) => {
      const id = c.req.param('id');
      sandboxes.get(id);
      const parsed = evaluateBody.safeParse(await jsonBody(c.req.raw));
      if (!parsed.success) throw new ApiError('bad_request', issues(parsed.error));
      return ok(c, dryRun(decide, id, (host) => runtime.resolve(id, host), parsed.data));
    })
    .get('/dns/platform', (c) => ok(c, { records: platformDns.records() }))
    .put('/dns/platform', async (c) => {
      const body = (await jsonBody(c.req.raw)) as { records?: unknown };
      const invalid = validatePlatformRecords(body?.records);
      if (invalid) throw new ApiError('bad_request', invalid);
      platformDns.replace(body.records as Record<string, string[]>);
      return ok(c, { records: platformDns.records() });
    });
}
