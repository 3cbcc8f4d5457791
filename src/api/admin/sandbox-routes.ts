import { Hono, type MiddlewareHandler } from 'hono';
import { isIP } from 'node:net';
import { dnsNamePattern, isDnsName, maxDnsNameLength } from '../../dns/dns-name.js';
import { z } from 'zod';
import type { SandboxService } from '../../control-plane/sandboxes.js';
import { validatePlatformRecords, type PlatformDnsView, type PlatformRecords } from '../../dns/views.js';
import { ApiError } from '../error-status.js';
import { dryRunContext, dryRunResolving, type DryRunResult } from '../../gateway/dry-run.js';
import type { Decider, ProxyTarget } from '../../gateway/decide.js';
import type { FlowClassification } from '../../policy/evaluate.js';
import { appProtocols, reasonCodes } from '../../policy/types.js';
import type { SandboxRuntime, SandboxView } from '../../sandbox/runtime.js';
import { runProbe, type ProbeResult } from '../../sandbox/probe.js';
import type { Gateway } from '../../gateway/gateway.js';
import type { TestProxy } from '../../test-proxy/proxy.js';
import { okJson } from '../envelope.js';
import { body, describeRoute, idParam, ok, responses, tag } from './openapi-operation.js';
import { arrayOf, componentSchema, describedFromZod, fromZod, int, objectOf, objectWith, oneOfStrings, str, stringMap } from './openapi-schema.js';
import type { JsonSchema } from './openapi-types.js';
import { jsonBody, zodJsonBody } from './typed-input.js';

const issues = (e: z.ZodError) => e.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');

// A pattern (not a refinement), so the OpenAPI document carries it too.
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
const base64Data = () => z.string().max(1_000_000).regex(/^[A-Za-z0-9+/=]*$/, 'must be base64');
/** The request bodies (story-routes.ts evaluates with the same body). */
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
const hostsBody = z.object({ hosts: z.record(dnsName(), z.array(hostsAddress()).min(1)) });
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

// --- the OpenAPI description's schemas --------------------------------------------------------------

/** `host` or `ip` is required (a refinement of the body schemas, which JSON Schema says this way). */
const hostOrIpSchema = { anyOf: [{ required: ['host'] }, { required: ['ip'] }] };

const flowFieldDescriptions = {
  host: 'the name the program connects to; without `ip` it is resolved as the sandbox would (hosts entries, then the platform DNS view)',
  ip: 'the destination address (skips resolution)',
  port: 'destination port',
  transport: 'default tcp',
  appProtocol: 'what the classifier would see; guessed from the port when absent (80/8080 http, else tls)',
  sni: 'the TLS or QUIC SNI the client sends when it is not `host` (a QUIC Initial is classified by it)',
};

export const evaluateRequestSchema = componentSchema('EvaluateRequest', () => ({
  ...describedFromZod(evaluateBody, {
    ...flowFieldDescriptions,
    data: 'base64 of what the program sends before waiting for an answer (TCP) or of the datagram (UDP): classified as the live gateway classifies it; overrides appProtocol',
  }),
  ...hostOrIpSchema,
}));

const probeRequestSchema = componentSchema('ProbeRequest', () => ({
  ...describedFromZod(probeBody, {
    ...flowFieldDescriptions,
    send: 'what the program sends first',
    data: 'base64, for send raw',
    alpn: 'ALPN protocols offered by tls-client-hello (default h2, http/1.1) or quic-initial (default h3)',
    timeoutMs: 'how long to wait for bytes back (default 2000)',
  }),
  ...hostOrIpSchema,
}));

const hostsRequestSchema = componentSchema('HostsRequest', () => fromZod(hostsBody));

const classificationSchema = (): JsonSchema => ({
  description: 'what the gateway would see of the flow',
  oneOf: [
    objectOf<Extract<FlowClassification, { kind: 'known' }>>({
      required: { kind: { const: 'known' }, appProtocol: oneOfStrings(appProtocols) },
      optional: { host: str('SNI, HTTP Host or DNS query name'), hostSource: oneOfStrings(['classifier', 'dns-cache']) },
    }),
    objectOf<Extract<FlowClassification, { kind: 'unknown' }>>({
      required: { kind: { const: 'unknown' }, reason: oneOfStrings(reasonCodes, 'why the flow could not be classified') },
      optional: {},
    }),
  ],
});

const proxyTargetSchema = (description: string) =>
  objectOf<ProxyTarget>(
    { required: { atyp: oneOfStrings(['domain', 'ipv4', 'ipv6'], 'the SOCKS5 address type of the CONNECT'), host: str(), port: int() }, optional: {} },
    { description },
  );

type FlowStarts = Extract<DryRunResult, { flowStarts: true }>;
const flowStartsSchema = () =>
  objectOf<FlowStarts>({
    required: {
      flowStarts: { const: true },
      action: oneOfStrings(['deny', 'pass-through', 'use-adapter']),
      reason: str('reason code, as in audit events (e.g. allowed, l4_denied, l7_denied, missing_sni)'),
      destination: objectOf<FlowStarts['destination']>({ required: { ip: str(), port: int() }, optional: { resolvedFrom: str('the host the ip was resolved from') } }),
      classification: classificationSchema(),
      phase: str('the decision phase that decided'),
      explanation: str('one sentence for humans'),
    },
    optional: {
      matchedRule: str('the traffic rule that matched'),
      route: oneOfStrings(['direct', 'proxy'], 'for allowed flows'),
      proxyAddress: str('the SOCKS5 proxy dialled (route proxy)'),
      proxyTarget: proxyTargetSchema('exactly what the SOCKS5 CONNECT would carry (route proxy)'),
    },
  });

export const dryRunResultSchema = componentSchema('DryRunResult', () => ({
  description: 'the decision the gateway would make; `action` is always present (deny when no flow would start: the name does not resolve in the sandbox)',
  oneOf: [
    flowStartsSchema(),
    objectOf<Extract<DryRunResult, { flowStarts: false }>>({
      required: {
        flowStarts: { const: false },
        action: { const: 'deny', description: 'no connection leaves the sandbox' },
        reason: { const: 'sandbox_resolution_failed' },
        host: str('the name the sandbox cannot resolve'),
        explanation: str('one sentence for humans: no policy decision is made, as no flow starts'),
      },
      optional: {},
    }),
  ],
}));

const probeResultSchema = componentSchema('ProbeResult', () =>
  objectOf<ProbeResult>({
    required: { decision: dryRunResultSchema, outcome: oneOfStrings(['completed', 'denied', 'rejected', 'error']) },
    optional: {
      error: str(),
      errorStep: str('which step failed (e.g. sandbox_resolution, proxy_connect, upstream_connect)'),
      proxySaw: objectOf<NonNullable<ProbeResult['proxySaw']>>(
        { required: {}, optional: { atyp: str(), host: str(), port: int(), user: str(), replyCode: int() } },
        { description: "the embedded test proxy's connection log entry for this flow" },
      ),
      received: str('base64 of the first bytes that came back (at most 4 KiB)'),
      flowId: str('the flow_id of its audit events'),
    },
  }),
);

const sandboxViewSchema = componentSchema('SandboxView', () =>
  objectOf<SandboxView>({
    required: {
      interception: oneOfStrings(['transparent', 'explicit']),
      hosts: stringMap(arrayOf(str()), 'sandbox-side hosts entries: name → addresses'),
    },
    optional: {
      ingress: objectOf<NonNullable<SandboxView['ingress']>>(
        { required: { socks5: str('127.0.0.1:P'), httpConnect: str('127.0.0.1:P') }, optional: {} },
        { description: 'explicit interception: loopback ingress ports' },
      ),
      namespace: str('transparent interception: the network namespace'),
      address: str("transparent interception: the sandbox's address"),
    },
  }),
);

const platformDnsViewSchema = componentSchema('PlatformDnsView', () =>
  objectWith(
    'records',
    stringMap({ type: 'array', minItems: 1, items: str() }, 'name → IP addresses, or name:port → host:port endpoints (e.g. {"api.internal.example.com": ["198.18.0.10"]})'),
  ),
);

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
    .get(
      '/sandboxes/:id',
      describeRoute({
        operationId: 'getSandbox', tags: [tag.sandboxes], parameters: [idParam], summary: "A sandbox's interception: mode, ingress ports, namespace and address, hosts entries",
        responses: responses({ '200': ok('the view; data is absent while interception is not up', sandboxViewSchema, false) }, 'NotFound'),
      }),
      (c) => {
        sandboxes.get(c.req.param('id'));
        return okJson(c, runtime.view(c.req.param('id')));
      },
    )
    .put(
      '/sandboxes/:id/hosts',
      describeRoute({
        operationId: 'putSandboxHosts', tags: [tag.sandboxes], parameters: [idParam], summary: 'Replace the sandbox-side hosts entries', requestBody: body(hostsRequestSchema),
        responses: responses({ '200': ok('the entries set', objectWith('hosts', stringMap(arrayOf(str()), 'name → addresses'))) }, 'BadRequest', 'NotFound'),
      }),
      knownSandbox,
      zodJsonBody(hostsBody, (e) => (e.issues.every((i) => i.path[0] === 'hosts' && i.path.length > 1) ? hostsIssues(e) : issues(e))),
      (c) => {
        const { hosts } = c.req.valid('json');
        runtime.setHosts(c.req.param('id'), hosts);
        return okJson(c, { hosts });
      },
    )
    .post(
      '/sandboxes/:id/evaluate',
      describeRoute({
        operationId: 'evaluate', tags: [tag.sandboxes], parameters: [idParam], summary: 'Dry-run decision for a flow the sandbox might open', requestBody: body(evaluateRequestSchema),
        responses: responses({ '200': ok('the decision', dryRunResultSchema) }, 'BadRequest', 'NotFound'),
      }),
      knownSandbox,
      zodJsonBody(evaluateBody, issues),
      async (c) => {
        const id = c.req.param('id');
        return okJson(c, await dryRunResolving(decide, id, (host) => runtime.lookup(id, host), c.req.valid('json'), dryRunContext(gateway, runtime, id)));
      },
    )
    .post(
      '/sandboxes/:id/probe',
      describeRoute({
        operationId: 'probe', tags: [tag.sandboxes], parameters: [idParam], summary: 'A real flow from the sandbox, reported', requestBody: body(probeRequestSchema),
        description: 'The decision, what happened, what the embedded test proxy saw, and the first bytes back.',
        responses: responses({ '200': ok('the probe', probeResultSchema) }, 'BadRequest', 'NotFound'),
      }),
      knownSandbox,
      zodJsonBody(probeBody, issues),
      async (c) => okJson(c, await runProbe({ runtime, gateway, proxy }, c.req.param('id'), c.req.valid('json'))),
    )
    .get(
      '/dns/platform',
      describeRoute({ operationId: 'getPlatformDns', tags: [tag.dns], summary: 'The platform DNS view (name → addresses)', responses: responses({ '200': ok('the view', platformDnsViewSchema) }) }),
      (c) => okJson(c, { records: platformDns.records() }),
    )
    .put(
      '/dns/platform',
      describeRoute({
        operationId: 'putPlatformDns', tags: [tag.dns], summary: 'Replace the platform DNS view', requestBody: body(platformDnsViewSchema),
        responses: responses({ '200': ok('the view set', platformDnsViewSchema) }, 'BadRequest'),
      }),
      jsonBody<{ records: PlatformRecords }>(platformDnsBody),
      (c) => {
        platformDns.replace(c.req.valid('json').records);
        return okJson(c, { records: platformDns.records() });
      },
    );
}
