import { Hono } from 'hono';
import { z } from 'zod';
import { ApiError } from '../error-status.js';
import { okJson } from '../envelope.js';
import { jsonBody, zodJsonBody, zodQuery } from './typed-input.js';
import { customerDnsRecordsSchema } from '../../test-proxy/customer-dns.js';
import { faultMatchSchema, type FaultDefinition } from '../../test-proxy/faults/fault.js';
import { faultKinds, type FaultDefinitionInput } from '../../test-proxy/faults/registry.js';
import { testProxyUsersSchema, type TestProxy } from '../../test-proxy/proxy.js';
import type { ConnectionLogEntry, ConnectionLogFilter } from '../../test-proxy/connection-log.js';
import { body, describeRoute, ok, pathParam, responses, tag } from './openapi-operation.js';
import { arrayOf, componentSchema, fromZod, int, objectOf, objectWith, oneOfStrings, queryParameters, str, type FieldDescriptions } from './openapi-schema.js';

/**
 * Admin routes for the test proxy, relative to `/_emulator`: connection log, faults, users and the
 * customer DNS view. Passwords are accepted but never returned.
 */

export interface ProxyAdminDeps {
  proxy: TestProxy;
}

const describe = (error: z.ZodError, root: string): string =>
  error.issues.map((i) => `${[root, ...i.path.map(String)].join('.')}: ${i.message}`).join('; ');

const usersBody = z.object({ users: testProxyUsersSchema }).strict();
const dnsBody = z.object({ records: customerDnsRecordsSchema }).strict();

const optionalInt = (name: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `${name} must be an integer`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `${name} must be between ${min} and ${max}`)
    .optional();
const connectionsQuery = z.object({
  user: z.string().optional(),
  host: z.string().optional(),
  atyp: z.enum(['ipv4', 'domain', 'ipv6']).optional(),
  replyCode: optionalInt('replyCode', 0, 255),
  state: z.enum(['open', 'closed']).optional(),
  afterId: optionalInt('afterId', 0, Number.MAX_SAFE_INTEGER),
  limit: optionalInt('limit', 1, 100_000),
});

const connectionsQueryDescriptions: FieldDescriptions<typeof connectionsQuery> = {
  user: 'only this RFC 1929 user',
  host: 'only this requested host',
  atyp: 'only this address type',
  replyCode: 'only this reply code (0-255)',
  state: 'open or closed connections',
  afterId: 'only entries with an id greater than this',
  limit: 'the newest `limit` entries',
};

const authMethod = (description?: string) => oneOfStrings(['none', 'username-password', 'no-acceptable', 'other'], description);

export const connectionLogEntrySchema = componentSchema('ConnectionLogEntry', () =>
  objectOf<ConnectionLogEntry>({
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
      methods: arrayOf(authMethod(), 'the auth methods the client offered'),
      method: authMethod('the negotiated auth method'),
      atyp: oneOfStrings(['ipv4', 'domain', 'ipv6']),
      host: str(),
      port: int(),
      upstream: str('host:port dialled (after the customer DNS view)'),
      replyCode: int('the RFC 1928 reply code sent'),
      auth: oneOfStrings(['accepted', 'rejected']),
      closeCause: str('e.g. client-closed, upstream-error, auth-failed, fault'),
      faults: arrayOf(str(), 'faults that acted on this connection'),
      error: str(),
    },
  }),
);

const faultDefinitionSchema = componentSchema('FaultDefinition', () =>
  objectOf<FaultDefinition>({
    required: {
      name: str(),
      type: oneOfStrings([...faultKinds.keys()]),
      toxicity: { type: 'number', minimum: 0, maximum: 1 },
      attributes: { type: 'object' },
      match: fromZod(faultMatchSchema),
    },
    optional: {},
  }),
);

/** One definition per fault kind, its attributes from the kind's own zod schema. */
const faultDefinitionRequestSchema = componentSchema('FaultDefinitionRequest', () => ({
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
          match: { ...fromZod(faultMatchSchema), description: 'which connections (user, host or *.suffix, port)' },
        },
      },
      { additionalProperties: false, title: kind.type },
    ),
  ),
}));

const proxyUsersRequestSchema = componentSchema('ProxyUsersRequest', () => ({ ...fromZod(usersBody), description: 'replaces the users (RFC 1929: 1-255 bytes each)' }));
const proxyUsersSchema = componentSchema('ProxyUsers', () => ({
  ...objectWith('users', arrayOf(objectWith('username', str()))),
  description: 'usernames only: passwords are write-only',
}));
const customerDnsViewSchema = componentSchema('CustomerDnsView', () => ({ ...fromZod(dnsBody), description: 'name or name:port → host:port (or host, keeping the port)' }));
/** Usernames only: passwords are accepted but never returned. */
const usernames = (proxy: TestProxy) => proxy.users.map((u) => ({ username: u.username }));
const faultList = (description: string) => ok(description, objectWith('faults', arrayOf(faultDefinitionSchema)));

export function proxyAdminRoutes({ proxy }: ProxyAdminDeps) {
  return new Hono()
    .get(
      '/proxy/connections',
      describeRoute({
        operationId: 'getProxyConnections', tags: [tag.proxy], summary: "The test proxy's connection log", parameters: queryParameters(connectionsQuery, connectionsQueryDescriptions),
        responses: responses({ '200': ok('entries, oldest first', objectWith('connections', arrayOf(connectionLogEntrySchema))) }, 'BadRequest'),
      }),
      zodQuery(connectionsQuery, (e) => describe(e, 'query')),
      (c) => {
        const filter: ConnectionLogFilter = {};
        for (const [k, v] of Object.entries(c.req.valid('query'))) if (v !== undefined) (filter as Record<string, unknown>)[k] = v;
        return okJson(c, { connections: proxy.connections.list(filter) });
      },
    )
    .delete(
      '/proxy/connections',
      describeRoute({
        operationId: 'clearProxyConnections', tags: [tag.proxy], summary: "Empty the test proxy's connection log",
        responses: responses({ '200': ok('emptied', objectWith('connections', { type: 'array', maxItems: 0 })) }),
      }),
      (c) => {
        proxy.connections.clear();
        return okJson(c, { connections: [] as ConnectionLogEntry[] });
      },
    )
    .get(
      '/proxy/faults',
      describeRoute({ operationId: 'getProxyFaults', tags: [tag.proxy], summary: "The test proxy's faults", responses: responses({ '200': faultList('the faults') }) }),
      (c) => okJson(c, { faults: proxy.faults.list() }),
    )
    // The definition is checked by the proxy (faults.add): its errors (invalid_fault, fault_exists) and
    // their messages are the API's.
    .post(
      '/proxy/faults',
      describeRoute({
        operationId: 'addProxyFault', tags: [tag.proxy], summary: 'Add a fault', requestBody: body(faultDefinitionRequestSchema),
        responses: responses({ '201': ok('the fault, defaults filled in', faultDefinitionSchema) }, 'BadRequest', 'Conflict'),
      }),
      jsonBody<FaultDefinitionInput, unknown>((input) => input),
      (c) => okJson(c, proxy.faults.add(c.req.valid('json')), 201),
    )
    .delete(
      '/proxy/faults/:name',
      describeRoute({
        operationId: 'removeProxyFault', tags: [tag.proxy], summary: 'Remove a fault', parameters: [pathParam('name', 'fault name')],
        responses: responses({ '200': faultList('the remaining faults') }, 'NotFound'),
      }),
      (c) => {
        const name = c.req.param('name');
        if (!proxy.faults.remove(name)) throw new ApiError('not_found', `no fault named ${JSON.stringify(name)}`);
        return okJson(c, { faults: proxy.faults.list() });
      },
    )
    .get(
      '/proxy/users',
      describeRoute({ operationId: 'getProxyUsers', tags: [tag.proxy], summary: "The test proxy's users (usernames only)", responses: responses({ '200': ok('the users', proxyUsersSchema) }) }),
      (c) => okJson(c, { users: usernames(proxy) }),
    )
    // zod issue messages never carry the value, so a rejected password is not echoed.
    .put(
      '/proxy/users',
      describeRoute({
        operationId: 'putProxyUsers', tags: [tag.proxy], summary: "Replace the test proxy's users", requestBody: body(proxyUsersRequestSchema),
        responses: responses({ '200': ok('the users set (usernames only)', proxyUsersSchema) }, 'BadRequest'),
      }),
      zodJsonBody(usersBody, (e) => describe(e, 'body')),
      (c) => {
        proxy.users = c.req.valid('json').users;
        return okJson(c, { users: usernames(proxy) });
      },
    )
    .route('/', customerDnsRoutes(proxy));
}

/** `/_emulator/dns/customer`: the test proxy's customer-side DNS view. */
function customerDnsRoutes(proxy: TestProxy) {
  return new Hono()
    .get(
      '/dns/customer',
      describeRoute({
        operationId: 'getCustomerDns', tags: [tag.dns, tag.proxy], summary: "The test proxy's customer-side DNS view (name[:port] → host:port)",
        responses: responses({ '200': ok('the view', customerDnsViewSchema) }),
      }),
      (c) => okJson(c, { records: proxy.customerDns }),
    )
    .put(
      '/dns/customer',
      describeRoute({
        operationId: 'putCustomerDns', tags: [tag.dns, tag.proxy], summary: "Replace the test proxy's customer-side DNS view", requestBody: body(customerDnsViewSchema),
        responses: responses({ '200': ok('the view set', customerDnsViewSchema) }, 'BadRequest'),
      }),
      zodJsonBody(dnsBody, (e) => describe(e, 'body')),
      (c) => {
        proxy.customerDns = c.req.valid('json').records;
        return okJson(c, { records: proxy.customerDns });
      },
    );
}
