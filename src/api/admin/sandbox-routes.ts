import { Hono } from 'hono';
import { z } from 'zod';
import type { SandboxService } from '../../control-plane/sandboxes.js';
import { validatePlatformRecords, type PlatformDnsView } from '../../dns/views.js';
import { ApiError } from '../../errors.js';
import { dryRun } from '../../gateway/dry-run.js';
import type { Decider } from '../../gateway/decide.js';
import { appProtocols } from '../../policy/types.js';
import type { SandboxRuntime } from '../../sandbox/runtime.js';
import { runProbe } from '../../sandbox/probe.js';
import type { Gateway } from '../../gateway/gateway.js';
import type { TestProxy } from '../../test-proxy/proxy.js';
import { EmulatorError } from '../../errors.js';
import { ok } from '../envelope.js';
import { readJsonBody } from '../body.js';

const issues = (e: z.ZodError) => e.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');

const flowFields = {
  host: z.string().min(1).max(253).optional(),
  ip: z.string().refine((s) => /^[0-9a-fA-F.:]+$/.test(s), 'must be an IP address').optional(),
  port: z.number().int().min(1).max(65535),
  transport: z.enum(['tcp', 'udp']).optional(),
  appProtocol: z.enum(appProtocols).optional(),
};
const hostOrIp = (b: { host?: string; ip?: string }) => b.host !== undefined || b.ip !== undefined;
const evaluateBody = z.object(flowFields).refine(hostOrIp, 'host or ip is required');
const probeBody = z
  .object({
    ...flowFields,
    send: z.enum(['tls-client-hello', 'http-get', 'quic-initial', 'raw']),
    data: z.string().max(1_000_000).regex(/^[A-Za-z0-9+/=]*$/, 'must be base64').optional(),
    timeoutMs: z.number().int().min(1).max(30_000).optional(),
  })
  .refine(hostOrIp, 'host or ip is required');

const hostsBody = z.object({ hosts: z.record(z.string().min(1).max(253), z.array(z.string().refine((s) => /^[0-9a-fA-F.:]+$/.test(s), 'must be an IP address')).min(1)) });

/** `/_emulator/sandboxes/{id}[/hosts|/evaluate]` and `/_emulator/dns/platform`, relative to `/_emulator`. */
export function sandboxAdminRoutes(deps: { sandboxes: SandboxService; runtime: SandboxRuntime; gateway: Gateway; proxy?: TestProxy }) {
  const { sandboxes, runtime, gateway, proxy } = deps;
  const decide: Decider = gateway.decide;
  const platformDns: PlatformDnsView = gateway.platformDns;
  return new Hono()
    .get('/sandboxes/:id', (c) => {
      sandboxes.get(c.req.param('id'));
      return ok(c, runtime.view(c.req.param('id')));
    })
    .put('/sandboxes/:id/hosts', async (c) => {
      const id = c.req.param('id');
      sandboxes.get(id);
      const parsed = hostsBody.safeParse(await readJsonBody(c));
      if (!parsed.success) throw new ApiError('bad_request', issues(parsed.error));
      runtime.setHosts(id, parsed.data.hosts);
      return ok(c, { hosts: parsed.data.hosts });
    })
    .post('/sandboxes/:id/evaluate', async (c) => {
      const id = c.req.param('id');
      sandboxes.get(id);
      const parsed = evaluateBody.safeParse(await readJsonBody(c));
      if (!parsed.success) throw new ApiError('bad_request', issues(parsed.error));
      return ok(c, dryRun(decide, id, (host) => runtime.resolve(id, host), parsed.data));
    })
    .post('/sandboxes/:id/probe', async (c) => {
      const id = c.req.param('id');
      sandboxes.get(id);
      const parsed = probeBody.safeParse(await readJsonBody(c));
      if (!parsed.success) throw new ApiError('bad_request', issues(parsed.error));
      try {
        return ok(c, await runProbe({ runtime, gateway, proxy }, id, parsed.data));
      } catch (err) {
        if (err instanceof EmulatorError && err.code === 'probe_unsupported') throw new ApiError('bad_request', err.message);
        throw err;
      }
    })
    .get('/dns/platform', (c) => ok(c, { records: platformDns.records() }))
    .put('/dns/platform', async (c) => {
      const body = (await readJsonBody(c)) as { records?: unknown };
      const invalid = validatePlatformRecords(body?.records);
      if (invalid) throw new ApiError('bad_request', invalid);
      platformDns.replace(body.records as Record<string, string[]>);
      return ok(c, { records: platformDns.records() });
    });
}
