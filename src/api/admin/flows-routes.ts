import { requestTeamId } from '../../control-plane/team-context.js';
import { Hono, type TypedResponse } from 'hono';
import type { AuditLog, NetworkAuditAttributes, NetworkAuditEvent } from '../../gateway/audit.js';
import type { Store } from '../../store/db.js';
import { okJson } from '../envelope.js';
import { eventFilter, eventsPage, eventsResponse } from '../routes/observability.js';
import { describeRoute, envelope, json, queryParam, responses, tag } from './openapi-operation.js';
import { arrayOf, bool, componentSchema, int, objectOf, oneOfStrings, str } from './openapi-schema.js';
import type { JsonSchema } from './openapi-types.js';
import { declaredQuery } from './typed-input.js';

/** The query parameters `GET /_emulator/flows` reads, each described for the OpenAPI document. */
const flowsQuery = {
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
} satisfies Record<string, { description: string; schema: JsonSchema }>;
export type FlowsQueryParam = keyof typeof flowsQuery;

/** The query `GET /_emulator/flows` reads; `eventFilter` checks it (its messages are the API's). */
export type FlowsQuery = Partial<Record<FlowsQueryParam, string>>;

const auditAttributes = () =>
  objectOf<NetworkAuditAttributes>({
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
      auth_resolved: bool(),
      auth_cache_hit: bool(),
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

export const networkAuditEventSchema = componentSchema('NetworkAuditEvent', () => ({
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
    attributes: auditAttributes(),
  },
}));

const eventsPageSchema: JsonSchema = {
  type: 'object',
  required: ['events'],
  properties: { events: arrayOf(networkAuditEventSchema), next_cursor: str(), watermark: str('cursor of the last event') },
};

/**
 * `GET /_emulator/flows`: audit events of every sandbox (`?sandbox=ID`, `outcome`, `action`, `phase`,
 * `cursor`, `limit`); `?follow=1` streams them as NDJSON, one event per line, as they happen.
 */
export function flowsRoutes(deps: { store: Store; audit: AuditLog; tenants: { tokenOf(teamId: string): string | undefined } }) {
  const describeFlows = describeRoute({
    operationId: 'flows', tags: [tag.flows], summary: 'Audit events of every sandbox; follow=1 streams them as NDJSON',
    parameters: Object.entries(flowsQuery).map(([name, p]) => queryParam(name, p.description, p.schema)),
    responses: responses(
      {
        '200': {
          description: 'a page of events (next_cursor when the page is full), or with follow an NDJSON stream of events, one per line',
          content: { ...json(envelope(eventsPageSchema)), 'application/x-ndjson': { schema: networkAuditEventSchema } },
        },
      },
      'BadRequest',
    ),
  });
  return new Hono().get('/flows', describeFlows, declaredQuery<FlowsQuery>(), (c) => {
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
