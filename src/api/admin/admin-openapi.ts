import { z } from 'zod';
import { apiStatus } from '../error-status.js';
import type { NetworkAuditAttributes } from '../../gateway/audit.js';
import type { ProxyTarget } from '../../gateway/decide.js';
import type { DryRunResult } from '../../gateway/dry-run.js';
import type { FlowStory } from '../../gateway/flow-story.js';
import type { FlowClassification } from '../../policy/evaluate.js';
import { appProtocols, reasonCodes } from '../../policy/types.js';
import type { ProbeResult } from '../../sandbox/probe.js';
import type { SandboxView } from '../../sandbox/runtime.js';
import type { ConnectionLogEntry } from '../../test-proxy/connection-log.js';
import { faultMatchSchema, type FaultDefinition } from '../../test-proxy/faults/fault.js';
import { faultKinds, type FaultDefinitionInput } from '../../test-proxy/faults/registry.js';
import type { EmulatorInfo } from './emulator-routes.js';
import type { FlowsQueryParam } from './flows-routes.js';
import { connectionsQuery, dnsBody, usersBody } from './proxy-routes.js';
import { evaluateBody, hostsBody, probeBody } from './sandbox-routes.js';

/**
 * The OpenAPI 3.1 document of the emulator admin API (`GET /_emulator/openapi.json`). Request bodies and
 * query parameters come from the zod schemas the routes check them with (`z.toJSONSchema`); response
 * shapes, which are TypeScript types, are described here with their property names checked against
 * those types at compile time (`objectOf`), so a field added to a response does not compile until it is
 * described. Which routes exist is checked against the app's own route list by
 * test/integration/api/admin-openapi.test.ts.
 */

export type JsonSchema = { [keyword: string]: unknown };

export interface OpenApiParameter {
  name: string;
  in: 'path' | 'query';
  required: boolean;
  description: string;
  schema: JsonSchema;
}

export interface OpenApiOperation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  /** `[]` on the one route that needs no token (`health`); otherwise the document's bearer token. */
  security?: Record<string, string[]>[];
  parameters?: OpenApiParameter[];
  requestBody?: { required: true; content: Record<string, { schema: JsonSchema }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: JsonSchema }> } | { $ref: string }>;
}

export type HttpMethod = 'get' | 'put' | 'post' | 'delete';

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  tags: { name: string; description: string }[];
  security: Record<string, string[]>[];
  paths: Record<string, Partial<Record<HttpMethod, OpenApiOperation>>>;
  components: {
    securitySchemes: Record<string, JsonSchema>;
    schemas: Record<string, JsonSchema>;
    responses: Record<string, { description: string; content: Record<string, { schema: JsonSchema }> }>;
  };
}

export interface AdminOpenApiOptions {
  /** The emulator's version (`info.version` of the document). */
  version: string;
  /** Whether the embedded test proxy runs; without it its routes are not served, so not described. */
  testProxy: boolean;
}

// --- schema helpers -------------------------------------------------------------------------------

/** A zod schema as the JSON Schema of what a client may send (defaults optional, before transforms). */
function fromZod(schema: z.ZodType): JsonSchema {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, { io: 'input' }) as JsonSchema;
  return json;
}

type SchemaName =
  | 'ErrorEnvelope'
  | 'Health'
  | 'EmulatorInfo'
  | 'SandboxView'
  | 'HostsRequest'
  | 'EvaluateRequest'
  | 'DryRunResult'
  | 'ProbeRequest'
  | 'ProbeResult'
  | 'PlatformDnsView'
  | 'CustomerDnsView'
  | 'NetworkAuditEvent'
  | 'ConnectionLogEntry'
  | 'FaultDefinitionRequest'
  | 'FaultDefinition'
  | 'ProxyUsersRequest'
  | 'ProxyUsers'
  | 'FlowStory';
const ref = (name: SchemaName) => ({ $ref: `#/components/schemas/${name}` });
const str = (description?: string): JsonSchema => ({ type: 'string', ...(description ? { description } : {}) });
const int = (description?: string): JsonSchema => ({ type: 'integer', ...(description ? { description } : {}) });
const oneOfStrings = (values: readonly string[], description?: string): JsonSchema => ({ type: 'string', enum: [...values], ...(description ? { description } : {}) });
const stringMap = (values: JsonSchema, description: string): JsonSchema => ({ type: 'object', additionalProperties: values, description });

type RequiredKeys<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? never : K }[keyof T];
type OptionalKeys<T> = Exclude<keyof T, RequiredKeys<T>>;

/**
 * An object schema with exactly `T`'s properties: `required` names `T`'s required ones and `optional`
 * the others, each described, so adding, renaming or making optional a field of `T` fails to compile
 * until this document says so.
 */
function objectOf<T>(props: { required: { [K in RequiredKeys<T> & string]: JsonSchema }; optional: { [K in OptionalKeys<T> & string]: JsonSchema } }, extra: JsonSchema = {}): JsonSchema {
  const required = Object.keys(props.required);
  return {
    type: 'object',
    properties: { ...props.required, ...props.optional },
    ...(required.length > 0 ? { required } : {}),
    ...extra,
  };
}

/** A description for every field a zod object schema accepts (a new field does not compile until described). */
type FieldDescriptions<S extends z.ZodType> = { [K in keyof z.input<S> & string]-?: string };

/** A zod object schema as JSON Schema, each property described. */
function describedFromZod<S extends z.ZodType>(schema: S, descriptions: FieldDescriptions<S>): JsonSchema {
  const json = fromZod(schema);
  const properties = json.properties as Record<string, JsonSchema>;
  const described = Object.fromEntries(Object.entries(properties).map(([name, s]) => [name, { ...s, description: descriptions[name as keyof FieldDescriptions<S>] }]));
  return { ...json, properties: described };
}

/** The query parameters a zod object schema checks, each described. */
function queryParameters<S extends z.ZodType>(schema: S, descriptions: FieldDescriptions<S>): OpenApiParameter[] {
  const json = fromZod(schema);
  const required = new Set((json.required as string[] | undefined) ?? []);
  return Object.entries(json.properties as Record<string, JsonSchema>).map(([name, s]) => ({
    name,
    in: 'query',
    required: required.has(name),
    description: descriptions[name as keyof FieldDescriptions<S>],
    schema: s,
  }));
}

/** `host` or `ip` is required (a refinement of the body schemas, which JSON Schema says this way). */
const hostOrIp = { anyOf: [{ required: ['host'] }, { required: ['ip'] }] };

const flowFieldDescriptions = {
  host: 'the name the program connects to; without `ip` it is resolved as the sandbox would (hosts entries, then the platform DNS view)',
  ip: 'the destination address (skips resolution)',
  port: 'destination port',
  transport: 'default tcp',
  appProtocol: 'what the classifier would see; guessed from the port when absent (80/8080 http, else tls)',
  sni: 'the TLS or QUIC SNI the client sends when it is not `host` (a QUIC Initial is classified by it)',
};

const proxyTarget = objectOf<ProxyTarget>({
  required: { atyp: oneOfStrings(['domain', 'ipv4', 'ipv6'], 'the SOCKS5 address type of the CONNECT'), host: str(), port: int() },
  optional: {},
});

const classification: JsonSchema = {
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
};

const dryRunResult: JsonSchema = {
  description: 'the decision the gateway would make; `action` is always present (deny when no flow would start: the name does not resolve in the sandbox)',
  oneOf: [
    objectOf<Extract<DryRunResult, { flowStarts: true }>>({
      required: {
        flowStarts: { const: true },
        action: oneOfStrings(['deny', 'pass-through', 'use-adapter']),
        reason: str('reason code, as in audit events (e.g. allowed, l4_denied, l7_denied, missing_sni)'),
        destination: objectOf<Extract<DryRunResult, { flowStarts: true }>['destination']>({
          required: { ip: str(), port: int() },
          optional: { resolvedFrom: str('the host the ip was resolved from') },
        }),
        classification,
        phase: str('the decision phase that decided'),
        explanation: str('one sentence for humans'),
      },
      optional: {
        matchedRule: str('the traffic rule that matched'),
        route: oneOfStrings(['direct', 'proxy'], 'for allowed flows'),
        proxyAddress: str('the SOCKS5 proxy dialled (route proxy)'),
        proxyTarget: { ...proxyTarget, description: 'exactly what the SOCKS5 CONNECT would carry (route proxy)' },
      },
    }),
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
};

const flowStory = objectOf<FlowStory>({
  required: {
    sandboxId: str(),
    steps: {
      type: 'array',
      description: 'classification, platform-checks, rule-evaluation, domain-and-verification, decision, proxy-handshake, relay, close: each with status (ok, failed, skipped, info), summary, and where recorded at / offsetMs / durationMs and facts',
      items: { type: 'object', required: ['step', 'status', 'summary'], properties: { step: str(), status: oneOfStrings(['ok', 'failed', 'skipped', 'info']), summary: str(), at: str(), offsetMs: int(), durationMs: int(), facts: { type: 'object' } } },
    },
    decision: { type: 'object', required: ['action', 'reason', 'phase', 'explanation'], description: "the decision recomputed through the gateway's decide path" },
    events: { type: 'array', items: ref('NetworkAuditEvent'), description: "the flow's audit events (none for a dry run)" },
  },
  optional: {
    flowId: str(),
    host: str(),
    hostSource: oneOfStrings(['tls-sni', 'http-host', 'quic-sni', 'dns-cache', 'dns-query', 'classifier']),
    consistent: { type: 'boolean', description: "false when today's policy decides differently from the recorded decision" },
    rules: { type: 'object', description: 'the destination phase rule by rule: platformChecks, tried (groups matched or not), notTried, firstMatch, probe' },
    mode: str('the policy mode'),
    proxy: { type: 'object', required: ['entry', 'correlation'], properties: { entry: ref('ConnectionLogEntry'), correlation: oneOfStrings(['source', 'target-and-time']) } },
  },
});

const probeResult = objectOf<ProbeResult>({
  required: {
    decision: ref('DryRunResult'),
    outcome: oneOfStrings(['completed', 'denied', 'rejected', 'error']),
  },
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
});

const sandboxView = objectOf<SandboxView>({
  required: {
    interception: oneOfStrings(['transparent', 'explicit']),
    hosts: stringMap({ type: 'array', items: str() }, 'sandbox-side hosts entries: name → addresses'),
  },
  optional: {
    ingress: objectOf<NonNullable<SandboxView['ingress']>>(
      { required: { socks5: str('127.0.0.1:P'), httpConnect: str('127.0.0.1:P') }, optional: {} },
      { description: 'explicit interception: loopback ingress ports' },
    ),
    namespace: str('transparent interception: the network namespace'),
    address: str("transparent interception: the sandbox's address"),
  },
});

const connectionLogEntry = objectOf<ConnectionLogEntry>({
  required: {
    id: int(),
    time: str('ISO time the client connected'),
    client: str('the client address'),
    bytesUp: int('client → destination'),
    bytesDown: int('destination → client'),
    durationMs: int(),
    state: oneOfStrings(['open', 'closed']),
  },
  optional: {
    user: str('RFC 1929 username'),
    methods: { type: 'array', items: oneOfStrings(['none', 'username-password', 'no-acceptable', 'other']), description: 'the auth methods the client offered' },
    method: oneOfStrings(['none', 'username-password', 'no-acceptable', 'other'], 'the negotiated auth method'),
    atyp: oneOfStrings(['ipv4', 'domain', 'ipv6']),
    host: str(),
    port: int(),
    upstream: str('host:port dialled (after the customer DNS view)'),
    replyCode: int('the RFC 1928 reply code sent'),
    auth: oneOfStrings(['accepted', 'rejected']),
    closeCause: str('e.g. client-closed, upstream-error, auth-failed, fault'),
    faults: { type: 'array', items: str(), description: 'faults that acted on this connection' },
    error: str(),
  },
});

const faultDefinition = (faultMatch: JsonSchema) => objectOf<FaultDefinition>({
  required: {
    name: str(),
    type: oneOfStrings([...faultKinds.keys()]),
    toxicity: { type: 'number', minimum: 0, maximum: 1 },
    attributes: { type: 'object' },
    match: faultMatch,
  },
  optional: {},
});

/** One definition per fault kind, its attributes from the kind's own zod schema. */
const faultDefinitionRequest = (faultMatch: JsonSchema): JsonSchema => ({
  description: 'a fault, Toxiproxy-shaped: `{name, type, toxicity, attributes, match}`',
  oneOf: [...faultKinds.values()].map((kind) =>
    objectOf<FaultDefinitionInput>(
      {
        required: { type: { const: kind.type, description: kind.summary } },
        optional: {
          // As registry.ts's definition schema checks it.
          name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$', description: 'default: the type' },
          toxicity: { type: 'number', minimum: 0, maximum: 1, default: 1, description: 'probability that the fault applies to a connection' },
          attributes: fromZod(kind.attributes),
          match: { ...faultMatch, description: 'which connections (user, host or *.suffix, port)' },
        },
      },
      { additionalProperties: false, title: kind.type },
    ),
  ),
});

const auditAttributes = objectOf<NetworkAuditAttributes>({
  required: {
    flow_id: str(),
    dest_ip: str(),
    dest_port: int(),
    transport: oneOfStrings(['tcp', 'udp']),
    classifier_result: oneOfStrings(['known', 'unknown']),
    action: oneOfStrings(['deny', 'pass-through', 'use-adapter']),
    reason: str(),
    outcome: oneOfStrings(['accepted', 'completed', 'denied', 'error']),
  },
  optional: {
    src_ip: str(),
    protocol: str(),
    host: str(),
    duration_ms: int(),
    egress_bytes: int(),
    ingress_bytes: int(),
    adapter: str(),
    adapter_capability: oneOfStrings(['pass-through', 'inspect', 'terminate']),
    auth_ref: str(),
    auth_resolved: { type: 'boolean' },
    auth_cache_hit: { type: 'boolean' },
    auth_enforcement: str(),
    matched_rule: str(),
    route: oneOfStrings(['direct', 'proxy']),
    proxy_address: str(),
    proxy_target_atyp: oneOfStrings(['domain', 'ipv4', 'ipv6']),
    proxy_target: str('host:port of the SOCKS5 CONNECT'),
    proxy_reply_code: int(),
    proxy_source: str("the gateway's address:port on its connection to the proxy (the proxy connection log's client)"),
    error_step: str('proxy_resolve, proxy_connect, proxy_auth, proxy_connect_reply, credentials, upstream_connect or relay'),
    error: str(),
    emulator_note: str(),
  },
});

const networkAuditEvent: JsonSchema = {
  type: 'object',
  description: "a Sandbox0 `network_audit` event (upstream's envelope: ids, actor, resource, producer, integrity, ...)",
  required: ['event_id', 'event_type', 'sandbox_id', 'occurred_at', 'phase', 'outcome', 'action', 'attributes'],
  properties: {
    event_id: str(),
    event_type: { const: 'network_audit' },
    sandbox_id: str(),
    occurred_at: str('RFC 3339'),
    phase: oneOfStrings(['attempt', 'result']),
    outcome: oneOfStrings(['accepted', 'completed', 'denied', 'error']),
    action: oneOfStrings(['network.deny', 'network.connect']),
    attributes: auditAttributes,
  },
};

const emulatorInfo = objectOf<EmulatorInfo>({
  required: {
    version: str(),
    apiUrl: str(),
    ports: stringMap(int(), 'bound ports by component (api, testProxy)'),
    token: str("the bearer token of this emulator (with a tenant's token: that token)"),
    interception: objectOf<EmulatorInfo['interception']>({
      required: { mode: oneOfStrings(['transparent', 'explicit', 'in-process']), reason: str() },
      optional: {
        backend: oneOfStrings(['root-netns', 'rootless-userns']),
        sandboxUser: str('who transparent sandbox commands run as'),
        limitations: { type: 'array', items: str(), description: 'what this transparent backend cannot do, each with the reason' },
      },
    }),
    platformDns: objectOf<EmulatorInfo['platformDns']>({
      required: { passthrough: { type: 'boolean', description: 'names without a platform DNS record are resolved with the host resolver' } },
      optional: {},
    }),
    dataDir: { type: ['string', 'null'], description: 'null when ephemeral' },
    ephemeral: { type: 'boolean' },
  },
  optional: {
    testProxy: objectOf<NonNullable<EmulatorInfo['testProxy']>>({
      required: {
        address: str('host:port'),
        users: { type: 'array', items: { type: 'object', required: ['username'], properties: { username: str() } }, description: "RFC 1929 users' names (passwords: the ready file, GET /_emulator/proxy/users never)" },
      },
      optional: {},
    }),
    fixtureCaPath: str('the CA certificate the customer fixtures are signed with'),
    teamId: str("with a tenant's token: the tenant's team"),
  },
});

const health: JsonSchema = {
  type: 'object',
  required: ['status', 'components'],
  properties: {
    status: oneOfStrings(['ok', 'degraded']),
    components: stringMap(oneOfStrings(['up', 'down', 'disabled']), 'api, store, gateway, testProxy, dns'),
  },
};

const platformDnsRecords: JsonSchema = {
  type: 'object',
  required: ['records'],
  properties: {
    records: stringMap(
      { type: 'array', minItems: 1, items: str() },
      'name → IP addresses, or name:port → host:port endpoints (e.g. {"api.internal.example.com": ["198.18.0.10"]})',
    ),
  },
};

const usernames = {
  type: 'object',
  required: ['users'],
  properties: { users: { type: 'array', items: { type: 'object', required: ['username'], properties: { username: str() } } } },
  description: 'usernames only: passwords are write-only',
};

/** The named schemas (`#/components/schemas/...`); zod's are converted here, when a document is built. */
const schemas = (): Record<SchemaName, JsonSchema> => {
  const faultMatch = fromZod(faultMatchSchema);
  return {
    ErrorEnvelope: {
      type: 'object',
      required: ['success', 'error'],
      properties: {
        success: { const: false },
        error: {
          type: 'object',
          required: ['code', 'message'],
          properties: { code: oneOfStrings(Object.keys(apiStatus)), message: str(), details: {} },
        },
      },
    },
    Health: health,
    EmulatorInfo: emulatorInfo,
    SandboxView: sandboxView,
    HostsRequest: fromZod(hostsBody),
    EvaluateRequest: {
      ...describedFromZod(evaluateBody, {
        ...flowFieldDescriptions,
        data: 'base64 of what the program sends before waiting for an answer (TCP) or of the datagram (UDP): classified as the live gateway classifies it; overrides appProtocol',
      }),
      ...hostOrIp,
    },
    DryRunResult: dryRunResult,
    ProbeRequest: {
      ...describedFromZod(probeBody, {
        ...flowFieldDescriptions,
        send: 'what the program sends first',
        data: 'base64, for send raw',
        alpn: 'ALPN protocols offered by tls-client-hello (default h2, http/1.1) or quic-initial (default h3)',
        timeoutMs: 'how long to wait for bytes back (default 2000)',
      }),
      ...hostOrIp,
    },
    ProbeResult: probeResult,
    PlatformDnsView: platformDnsRecords,
    CustomerDnsView: { ...fromZod(dnsBody), description: 'name or name:port → host:port (or host, keeping the port)' },
    NetworkAuditEvent: networkAuditEvent,
    ConnectionLogEntry: connectionLogEntry,
    FaultDefinitionRequest: faultDefinitionRequest(faultMatch),
    FaultDefinition: faultDefinition(faultMatch),
    ProxyUsersRequest: { ...fromZod(usersBody), description: 'replaces the users (RFC 1929: 1-255 bytes each)' },
    ProxyUsers: usernames,
    FlowStory: flowStory,
  };
};

// --- operations -----------------------------------------------------------------------------------

/** A success envelope around `data` (left out when there is nothing, as `ok` does). */
const envelope = (data: JsonSchema, dataRequired = true): JsonSchema => ({
  type: 'object',
  required: dataRequired ? ['success', 'data'] : ['success'],
  properties: { success: { const: true }, data },
});
const json = (schema: JsonSchema) => ({ 'application/json': { schema } });
const ok = (description: string, data: JsonSchema, dataRequired = true) => ({ description, content: json(envelope(data, dataRequired)) });
const body = (schema: JsonSchema) => ({ required: true as const, content: json(schema) });
const error = (name: 'BadRequest' | 'Unauthorized' | 'NotFound' | 'Conflict') => ({ $ref: `#/components/responses/${name}` });
const idParam: OpenApiParameter = { name: 'id', in: 'path', required: true, description: 'sandbox id', schema: str() };

const flowsQuery: { [K in FlowsQueryParam]: { description: string; schema: JsonSchema } } = {
  sandbox: { description: "only this sandbox's events", schema: str() },
  sandbox_id: { description: 'the same as sandbox', schema: str() },
  outcome: { description: 'accepted, completed, denied or error', schema: str() },
  action: { description: 'network.deny or network.connect', schema: str() },
  phase: { description: 'attempt or result', schema: str() },
  event_type: { description: 'network_audit (the only type recorded)', schema: str() },
  start_time: { description: 'RFC 3339; events at or after it', schema: { type: 'string', format: 'date-time' } },
  end_time: { description: 'RFC 3339; events before it (not with follow)', schema: { type: 'string', format: 'date-time' } },
  cursor: { description: 'the next_cursor (or watermark) of a previous page: events after it', schema: str() },
  limit: { description: 'page size (default 100, at most 10000)', schema: { type: 'string', pattern: '^\\d+$' } },
  follow: { description: '1 or true: stream events as NDJSON as they happen (after the backlog selected by cursor or start_time)', schema: oneOfStrings(['1', 'true']) },
  watch: { description: 'the same as follow', schema: oneOfStrings(['1', 'true']) },
};

const connectionsQueryDescriptions: FieldDescriptions<typeof connectionsQuery> = {
  user: 'only this RFC 1929 user',
  host: 'only this requested host',
  atyp: 'only this address type',
  replyCode: 'only this reply code (0-255)',
  state: 'open or closed connections',
  afterId: 'only entries with an id greater than this',
  limit: 'the newest `limit` entries',
};

interface Route {
  method: HttpMethod;
  path: string;
  /** Served only with the embedded test proxy. */
  testProxy?: true;
  operation: OpenApiOperation;
}

const tag = { emulator: 'emulator', sandboxes: 'sandboxes', dns: 'dns', flows: 'flows', proxy: 'test proxy' } as const;

const routes = (): Route[] => [
  {
    method: 'get',
    path: '/_emulator/health',
    operation: {
      operationId: 'health',
      summary: 'Component states (no token needed)',
      tags: [tag.emulator],
      security: [],
      responses: { '200': ok('every component is up or disabled', ref('Health')), '503': ok('a component is down', ref('Health')) },
    },
  },
  {
    method: 'get',
    path: '/_emulator/info',
    operation: {
      operationId: 'info',
      summary: 'Ports, token, interception mode, test proxy, fixture CA, data dir, version',
      tags: [tag.emulator],
      responses: { '200': ok('this emulator', ref('EmulatorInfo')), '401': error('Unauthorized') },
    },
  },
  {
    method: 'post',
    path: '/_emulator/reset',
    operation: {
      operationId: 'reset',
      summary: 'Back to a clean state (keeps the token and ports)',
      description: 'Removes sandboxes, credential sources and flows; restores the default DNS views, proxy users and faults.',
      tags: [tag.emulator],
      responses: { '200': ok('reset', { type: 'object', required: ['reset'], properties: { reset: { const: true } } }), '401': error('Unauthorized') },
    },
  },
  {
    method: 'post',
    path: '/_emulator/tenants',
    operation: {
      operationId: 'createTenant',
      summary: 'A tenant: a team of its own with its own token (emulator token only)',
      description:
        "403 with a tenant's token. A tenant's token sees only the tenant's sandboxes, credential sources and flows (info shows its token and teamId; reset empties only the tenant). The test proxy, DNS views and faults are shared. Tenants live as long as the emulator.",
      tags: [tag.emulator],
      responses: {
        '201': ok('the tenant', { type: 'object', required: ['teamId', 'token'], properties: { teamId: str(), token: str() } }),
        '401': error('Unauthorized'),
      },
    },
  },
  {
    method: 'get',
    path: '/_emulator/openapi.json',
    operation: {
      operationId: 'openapi',
      summary: 'This document',
      description: 'The OpenAPI document itself, not wrapped in the success envelope.',
      tags: [tag.emulator],
      responses: {
        '200': { description: 'an OpenAPI 3.1 document', content: json({ type: 'object', required: ['openapi', 'info', 'paths'] }) },
        '401': error('Unauthorized'),
      },
    },
  },
  {
    method: 'get',
    path: '/_emulator/scenario.schema.json',
    operation: {
      operationId: 'scenarioSchema',
      summary: 'The JSON Schema of scenario files',
      description: 'The schema `scenario run` validates YAML scenario files with (also shipped as fixtures/scenario.schema.json); not wrapped in the success envelope.',
      tags: [tag.emulator],
      responses: { '200': { description: 'a JSON Schema (draft 2020-12)', content: json({ type: 'object' }) }, '401': error('Unauthorized') },
    },
  },
  {
    method: 'get',
    path: '/_emulator/scenario/record',
    operation: {
      operationId: 'recordScenario',
      summary: "This emulator's state and the flows so far, as a scenario",
      description:
        'What `scenario record` writes: sandboxes (policy, hosts), credential sources, DNS records and proxy users/faults that differ from the defaults, and every flow as a step expecting what happened. Secrets are ${secret:NAME} placeholders (equal secrets share a NAME); include_secrets=1 puts the test proxy users\' passwords in clear.',
      tags: [tag.emulator],
      parameters: [
        { name: 'name', in: 'query', required: false, schema: str(), description: 'the scenario name' },
        { name: 'include_secrets', in: 'query', required: false, schema: oneOfStrings(['1', 'true', '0', 'false']), description: "the test proxy users' passwords in clear" },
      ],
      responses: { '200': ok('the scenario document', { type: 'object', required: ['scenario'], properties: { scenario: { type: 'object' } } }), '401': error('Unauthorized') },
    },
  },
  {
    method: 'get',
    path: '/_emulator/sandboxes/{id}',
    operation: {
      operationId: 'getSandbox',
      summary: "A sandbox's interception: mode, ingress ports, namespace and address, hosts entries",
      tags: [tag.sandboxes],
      parameters: [idParam],
      responses: { '200': ok('the view; data is absent while interception is not up', ref('SandboxView'), false), '401': error('Unauthorized'), '404': error('NotFound') },
    },
  },
  {
    method: 'put',
    path: '/_emulator/sandboxes/{id}/hosts',
    operation: {
      operationId: 'putSandboxHosts',
      summary: 'Replace the sandbox-side hosts entries',
      tags: [tag.sandboxes],
      parameters: [idParam],
      requestBody: body(ref('HostsRequest')),
      responses: {
        '200': ok('the entries set', { type: 'object', required: ['hosts'], properties: { hosts: stringMap({ type: 'array', items: str() }, 'name → addresses') } }),
        '400': error('BadRequest'),
        '401': error('Unauthorized'),
        '404': error('NotFound'),
      },
    },
  },
  {
    method: 'post',
    path: '/_emulator/sandboxes/{id}/evaluate',
    operation: {
      operationId: 'evaluate',
      summary: 'Dry-run decision for a flow the sandbox might open',
      tags: [tag.sandboxes],
      parameters: [idParam],
      requestBody: body(ref('EvaluateRequest')),
      responses: { '200': ok('the decision', ref('DryRunResult')), '400': error('BadRequest'), '401': error('Unauthorized'), '404': error('NotFound') },
    },
  },
  {
    method: 'post',
    path: '/_emulator/sandboxes/{id}/evaluate/story',
    operation: {
      operationId: 'evaluateStory',
      summary: 'A dry run with its story (the web view\'s evaluate form)',
      tags: [tag.sandboxes],
      parameters: [idParam],
      requestBody: body(ref('EvaluateRequest')),
      responses: {
        '200': ok('the decision and its story', { type: 'object', required: ['decision', 'story'], properties: { decision: ref('DryRunResult'), story: ref('FlowStory') } }),
        '400': error('BadRequest'),
        '401': error('Unauthorized'),
        '404': error('NotFound'),
      },
    },
  },
  {
    method: 'post',
    path: '/_emulator/sandboxes/{id}/probe',
    operation: {
      operationId: 'probe',
      summary: 'A real flow from the sandbox, reported',
      description: 'The decision, what happened, what the embedded test proxy saw, and the first bytes back.',
      tags: [tag.sandboxes],
      parameters: [idParam],
      requestBody: body(ref('ProbeRequest')),
      responses: { '200': ok('the probe', ref('ProbeResult')), '400': error('BadRequest'), '401': error('Unauthorized'), '404': error('NotFound') },
    },
  },
  {
    method: 'get',
    path: '/_emulator/dns/platform',
    operation: {
      operationId: 'getPlatformDns',
      summary: 'The platform DNS view (name → addresses)',
      tags: [tag.dns],
      responses: { '200': ok('the view', ref('PlatformDnsView')), '401': error('Unauthorized') },
    },
  },
  {
    method: 'put',
    path: '/_emulator/dns/platform',
    operation: {
      operationId: 'putPlatformDns',
      summary: 'Replace the platform DNS view',
      tags: [tag.dns],
      requestBody: body(ref('PlatformDnsView')),
      responses: { '200': ok('the view set', ref('PlatformDnsView')), '400': error('BadRequest'), '401': error('Unauthorized') },
    },
  },
  {
    method: 'get',
    path: '/_emulator/dns/customer',
    testProxy: true,
    operation: {
      operationId: 'getCustomerDns',
      summary: "The test proxy's customer-side DNS view (name[:port] → host:port)",
      tags: [tag.dns, tag.proxy],
      responses: { '200': ok('the view', ref('CustomerDnsView')), '401': error('Unauthorized') },
    },
  },
  {
    method: 'put',
    path: '/_emulator/dns/customer',
    testProxy: true,
    operation: {
      operationId: 'putCustomerDns',
      summary: "Replace the test proxy's customer-side DNS view",
      tags: [tag.dns, tag.proxy],
      requestBody: body(ref('CustomerDnsView')),
      responses: { '200': ok('the view set', ref('CustomerDnsView')), '400': error('BadRequest'), '401': error('Unauthorized') },
    },
  },
  {
    method: 'get',
    path: '/_emulator/flows',
    operation: {
      operationId: 'flows',
      summary: 'Audit events of every sandbox; follow=1 streams them as NDJSON',
      tags: [tag.flows],
      parameters: Object.entries(flowsQuery).map(([name, p]) => ({ name, in: 'query' as const, required: false, ...p })),
      responses: {
        '200': {
          description: 'a page of events (next_cursor when the page is full), or with follow an NDJSON stream of events, one per line',
          content: {
            ...json(
              envelope({
                type: 'object',
                required: ['events'],
                properties: { events: { type: 'array', items: ref('NetworkAuditEvent') }, next_cursor: str(), watermark: str('cursor of the last event') },
              }),
            ),
            'application/x-ndjson': { schema: ref('NetworkAuditEvent') },
          },
        },
        '400': error('BadRequest'),
        '401': error('Unauthorized'),
      },
    },
  },
  {
    method: 'get',
    path: '/_emulator/flows/{flowId}/story',
    operation: {
      operationId: 'flowStory',
      summary: "A recorded flow's story: classification, platform checks, rules tried, decision, the proxy's view, relay, close",
      description: 'Computed on request from the audit events, the test proxy connection log and the current policy (`consistent` is false when it has changed since the flow).',
      tags: [tag.flows],
      parameters: [
        { name: 'flowId', in: 'path', required: true, description: 'the flow id (`flow_id` of its audit events)', schema: str() },
        { name: 'sandbox', in: 'query', required: true, description: 'the sandbox id', schema: str() },
      ],
      responses: { '200': ok('the story', ref('FlowStory')), '400': error('BadRequest'), '401': error('Unauthorized'), '404': error('NotFound') },
    },
  },
  {
    method: 'get',
    path: '/_emulator/proxy/connections',
    testProxy: true,
    operation: {
      operationId: 'getProxyConnections',
      summary: "The test proxy's connection log",
      tags: [tag.proxy],
      parameters: queryParameters(connectionsQuery, connectionsQueryDescriptions),
      responses: {
        '200': ok('entries, oldest first', { type: 'object', required: ['connections'], properties: { connections: { type: 'array', items: ref('ConnectionLogEntry') } } }),
        '400': error('BadRequest'),
        '401': error('Unauthorized'),
      },
    },
  },
  {
    method: 'delete',
    path: '/_emulator/proxy/connections',
    testProxy: true,
    operation: {
      operationId: 'clearProxyConnections',
      summary: "Empty the test proxy's connection log",
      tags: [tag.proxy],
      responses: { '200': ok('emptied', { type: 'object', required: ['connections'], properties: { connections: { type: 'array', maxItems: 0 } } }), '401': error('Unauthorized') },
    },
  },
  {
    method: 'get',
    path: '/_emulator/proxy/faults',
    testProxy: true,
    operation: {
      operationId: 'getProxyFaults',
      summary: "The test proxy's faults",
      tags: [tag.proxy],
      responses: { '200': ok('the faults', { type: 'object', required: ['faults'], properties: { faults: { type: 'array', items: ref('FaultDefinition') } } }), '401': error('Unauthorized') },
    },
  },
  {
    method: 'post',
    path: '/_emulator/proxy/faults',
    testProxy: true,
    operation: {
      operationId: 'addProxyFault',
      summary: 'Add a fault',
      tags: [tag.proxy],
      requestBody: body(ref('FaultDefinitionRequest')),
      responses: { '201': ok('the fault, defaults filled in', ref('FaultDefinition')), '400': error('BadRequest'), '401': error('Unauthorized'), '409': error('Conflict') },
    },
  },
  {
    method: 'delete',
    path: '/_emulator/proxy/faults/{name}',
    testProxy: true,
    operation: {
      operationId: 'removeProxyFault',
      summary: 'Remove a fault',
      tags: [tag.proxy],
      parameters: [{ name: 'name', in: 'path', required: true, description: 'fault name', schema: str() }],
      responses: {
        '200': ok('the remaining faults', { type: 'object', required: ['faults'], properties: { faults: { type: 'array', items: ref('FaultDefinition') } } }),
        '401': error('Unauthorized'),
        '404': error('NotFound'),
      },
    },
  },
  {
    method: 'get',
    path: '/_emulator/proxy/users',
    testProxy: true,
    operation: {
      operationId: 'getProxyUsers',
      summary: "The test proxy's users (usernames only)",
      tags: [tag.proxy],
      responses: { '200': ok('the users', ref('ProxyUsers')), '401': error('Unauthorized') },
    },
  },
  {
    method: 'put',
    path: '/_emulator/proxy/users',
    testProxy: true,
    operation: {
      operationId: 'putProxyUsers',
      summary: "Replace the test proxy's users",
      tags: [tag.proxy],
      requestBody: body(ref('ProxyUsersRequest')),
      responses: { '200': ok('the users set (usernames only)', ref('ProxyUsers')), '400': error('BadRequest'), '401': error('Unauthorized') },
    },
  },
];

const errorResponse = (description: string) => ({ description, content: json(ref('ErrorEnvelope')) });

/** The admin API's OpenAPI 3.1 document: the routes served with (or without) the embedded test proxy. */
export function adminOpenApiDocument({ version, testProxy }: AdminOpenApiOptions): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  for (const route of routes()) {
    if (route.testProxy && !testProxy) continue;
    (paths[route.path] ??= {})[route.method] = route.operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'sandbox-egress-emulator admin API',
      version,
      description:
        'The emulator admin API under /_emulator (never a Sandbox0 path). Every route needs the bearer token except health. ' +
        'Responses use the Sandbox0 envelope: {"success":true,"data":...} or {"success":false,"error":{"code","message","details"?}}.',
    },
    tags: [
      { name: tag.emulator, description: 'health, info, reset, this document' },
      { name: tag.sandboxes, description: 'sandbox interception, hosts entries, dry runs and probes' },
      { name: tag.dns, description: 'the platform and customer-side DNS views' },
      { name: tag.flows, description: 'audit events of every sandbox' },
      ...(testProxy ? [{ name: tag.proxy, description: 'the embedded SOCKS5 test proxy' }] : []),
    ],
    security: [{ bearerAuth: [] }],
    paths,
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'the emulator token (SANDBOX0_TOKEN; `token` of the ready file)' } },
      schemas: schemas(),
      responses: {
        BadRequest: errorResponse('bad_request: the body or query is invalid (the message names the field)'),
        Unauthorized: errorResponse('unauthorized: the bearer token is missing or wrong'),
        NotFound: errorResponse('not_found: no such sandbox (or fault)'),
        Conflict: errorResponse('conflict: a fault with that name exists'),
      },
    },
  };
}
