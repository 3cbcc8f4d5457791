import { Hono, type MiddlewareHandler } from 'hono';
import { isIP } from 'node:net';
import { dnsNamePattern, isDnsName, maxDnsNameLength } from '../../dns/dns-name.js';
import { z } from 'zod';
import type { SandboxService } from '../../control-plane/sandboxes.js';
import { validatePlatformRecords, type PlatformDnsView, type PlatformRecords } from '../../dns/views.js';
import { ApiError } from '../error-status.js';
import { dryRunContext, dryRunResolving } from '../../gateway/dry-run.js';
import type { Decider } from '../../gateway/decide.js';
import { appProtocols } from '../../policy/types.js';
import type { SandboxRuntime } from '../../sandbox/runtime.js';
import { runProbe } from '../../sandbox/probe.js';
import type { Gateway } from '../../gateway/gateway.js';
import type { TestProxy } from '../../test-proxy/proxy.js';
import { okJson } from '../envelope.js';
import { jsonBody, zodJsonBody } from './typed-input.js';

const issues = (e: z.ZodError) => e.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');

// A pattern (not a refinement), so the OpenAPI document (admin-openapi.ts) carries it too.
const ipAddress = () => z.string().regex(/^[0-9a-fA-F.:]+$/, 'must be an IP address');
const flowFields = {
  host: z.string().min(1).max(253).optional(),
  ip: ipAddress().optional(),
  port: z.number().int().min(1).max(65535),
  transport: z.enum(['tcp', 'udp']).optional(),
  appProtocol: z.enum(appProtocols).optional(),
  /** The TLS / QUIC SNI when it is not `host` (the name the sandbox resolves). */
  sni: z.string().min(1).max(253).optional(),
};
const hostOrIp = (b: { host?: string; ip?: string }) => b.host !== undefined || b.ip !== undefined;
/** The request bodies, exported for the OpenAPI document (admin-openapi.ts). */
const base64Data = () => z.string().max(1_000_000).regex(/^[A-Za-z0-9+/=]*$/, 'must be base64');
export const evaluateBody = z.object({ ...flowFields, data: base64Data().optional() }).refine(hostOrIp, 'host or ip is required');
export const probeBody = z
  .object({
    ...flowFields,
    send: z.enum(['tls-client-hello', 'http-get', 'quic-initial', 'raw']),
    data: base64Data().optional(),
    alpn: z.array(z.string().min(1).max(255)).min(1).max(16).optional(),
    timeoutMs: z.number().int().min(1).max(30_000).optional(),
  })
  .refine(hostOrIp, 'host or ip is required');

/**
 * A hosts entry's name is a DNS name (labels of letters, digits, `-`, `_`; 1–63 each, 253 in all, an
 * optional final dot): nothing that could end its line in the sandbox's hosts file or start a comment.
 */
const dnsName = () =>
  z
    .string()
    .max(maxDnsNameLength + 1)
    .regex(dnsNamePattern, 'must be a DNS name (letters, digits, "-", "_"; labels of 1–63)')
    .refine(isDnsName, `must be a DNS name of at most ${maxDnsNameLength} characters`);
/** An address of a hosts entry: the pattern (for the OpenAPI document), then a real parser. */
const hostsAddress = () => ipAddress().refine((address) => isIP(address) !== 0, 'must be an IP address');
export const hostsBody = z.object({ hosts: z.record(dnsName(), z.array(hostsAddress()).min(1)) });
/** A bad name is quoted (it may hold a newline) and its own issue's words are given. */
const hostsIssues = (e: z.ZodError) =>
  e.issues
    .map((i) => {
      const nested = i.code === 'invalid_key' ? i.issues[0]?.message : undefined;
      const [, name, ...rest] = i.path;
      return `hosts ${JSON.stringify(name ?? '')}${rest.length ? `.${rest.join('.')}` : ''}: ${nested ?? i.message}`;
    })
    .join('; ');

function platformDnsBody(body: unknown): { records: PlatformRecords } {
  const records = (body as { records?: unknown } | null)?.records;
  const invalid = validatePlatformRecords(records);
  if (invalid) throw new ApiError('bad_request', invalid);
  return { records: records as PlatformRecords };
}

/** `/_emulator/sandboxes/{id}[/hosts|/evaluate|/probe]` and `/_emulator/dns/platform`, relative to `/_emulator`. */
export function sandboxAdminRoutes(deps: { sandboxes: SandboxService; runtime: SandboxRuntime; gateway: Gateway; proxy?: TestProxy }) {
  const { sandboxes, runtime, gateway, proxy } = deps;
  const decide: Decider = gateway.decide;
  const platformDns: PlatformDnsView = gateway.platformDns;
  // An unknown sandbox is a 404 before its body is read.
  const knownSandbox: MiddlewareHandler = async (c, next) => {
    sandboxes.get(c.req.param('id')!);
    await next();
  };
  return new Hono()
    .get('/sandboxes/:id', (c) => {
      sandboxes.get(c.req.param('id'));
      return okJson(c, runtime.view(c.req.param('id')));
    })
    .put('/sandboxes/:id/hosts', knownSandbox, zodJsonBody(hostsBody, (e) => (e.issues.every((i) => i.path[0] === 'hosts' && i.path.length > 1) ? hostsIssues(e) : issues(e))), (c) => {
      const { hosts } = c.req.valid('json');
      runtime.setHosts(c.req.param('id'), hosts);
      return okJson(c, { hosts });
    })
    .post('/sandboxes/:id/evaluate', knownSandbox, zodJsonBody(evaluateBody, issues), async (c) => {
      const id = c.req.param('id');
      return okJson(c, await dryRunResolving(decide, id, (host) => runtime.lookup(id, host), c.req.valid('json'), dryRunContext(gateway, runtime, id)));
    })
    .post('/sandboxes/:id/probe', knownSandbox, zodJsonBody(probeBody, issues), async (c) =>
      okJson(c, await runProbe({ runtime, gateway, proxy }, c.req.param('id'), c.req.valid('json'))),
    )
    .get('/dns/platform', (c) => okJson(c, { records: platformDns.records() }))
    .put('/dns/platform', jsonBody<{ records: PlatformRecords }>(platformDnsBody), (c) => {
      platformDns.replace(c.req.valid('json').records);
      return okJson(c, { records: platformDns.records() });
    });
}
