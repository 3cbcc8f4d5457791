import { Hono } from 'hono';
import { z } from 'zod';
import { ApiError } from '../error-status.js';
import { okJson } from '../envelope.js';
import { jsonBody, zodJsonBody, zodQuery } from './typed-input.js';
import { customerDnsRecordsSchema } from '../../test-proxy/customer-dns.js';
import type { FaultDefinitionInput } from '../../test-proxy/faults/registry.js';
import { testProxyUsersSchema, type TestProxy } from '../../test-proxy/proxy.js';
import type { ConnectionLogEntry, ConnectionLogFilter } from '../../test-proxy/connection-log.js';

/**
 * Admin routes for the test proxy, relative to `/_emulator`: connection log, faults, users and the
 * customer DNS view. Passwords are accepted but never returned.
 */

export interface ProxyAdminDeps {
  proxy: TestProxy;
}

const describe = (error: z.ZodError, root: string): string =>
  error.issues.map((i) => `${[root, ...i.path.map(String)].join('.')}: ${i.message}`).join('; ');

/** The request schemas, exported for the OpenAPI document (admin-openapi.ts). */
export const usersBody = z.object({ users: testProxyUsersSchema }).strict();
export const dnsBody = z.object({ records: customerDnsRecordsSchema }).strict();

const optionalInt = (name: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `${name} must be an integer`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `${name} must be between ${min} and ${max}`)
    .optional();
export const connectionsQuery = z.object({
  user: z.string().optional(),
  host: z.string().optional(),
  atyp: z.enum(['ipv4', 'domain', 'ipv6']).optional(),
  replyCode: optionalInt('replyCode', 0, 255),
  state: z.enum(['open', 'closed']).optional(),
  afterId: optionalInt('afterId', 0, Number.MAX_SAFE_INTEGER),
  limit: optionalInt('limit', 1, 100_000),
});

export function proxyAdminRoutes({ proxy }: ProxyAdminDeps) {
  return new Hono()
    .get('/proxy/connections', zodQuery(connectionsQuery, (e) => describe(e, 'query')), (c) => {
      const filter: ConnectionLogFilter = {};
      for (const [k, v] of Object.entries(c.req.valid('query'))) if (v !== undefined) (filter as Record<string, unknown>)[k] = v;
      return okJson(c, { connections: proxy.connections.list(filter) });
    })
    .delete('/proxy/connections', (c) => {
      proxy.connections.clear();
      return okJson(c, { connections: [] as ConnectionLogEntry[] });
    })
    .get('/proxy/faults', (c) => okJson(c, { faults: proxy.faults.list() }))
    // The definition is checked by the proxy (faults.add): its errors (invalid_fault, fault_exists) and
    // their messages are the API's.
    .post('/proxy/faults', jsonBody<FaultDefinitionInput, unknown>((body) => body), (c) => okJson(c, proxy.faults.add(c.req.valid('json')), 201))
    .delete('/proxy/faults/:name', (c) => {
      const name = c.req.param('name');
      if (!proxy.faults.remove(name)) throw new ApiError('not_found', `no fault named ${JSON.stringify(name)}`);
      return okJson(c, { faults: proxy.faults.list() });
    })
    .get('/proxy/users', (c) => okJson(c, { users: proxy.users.map((u) => ({ username: u.username })) }))
    // zod issue messages never carry the value, so a rejected password is not echoed.
    .put('/proxy/users', zodJsonBody(usersBody, (e) => describe(e, 'body')), (c) => {
      proxy.users = c.req.valid('json').users;
      return okJson(c, { users: proxy.users.map((u) => ({ username: u.username })) });
    })
    .get('/dns/customer', (c) => okJson(c, { records: proxy.customerDns }))
    .put('/dns/customer', zodJsonBody(dnsBody, (e) => describe(e, 'body')), (c) => {
      proxy.customerDns = c.req.valid('json').records;
      return okJson(c, { records: proxy.customerDns });
    });
}
