import { Hono } from 'hono';
import { z } from 'zod';
import { ApiError } from '../../errors.js';
import { ok } from '../envelope.js';
import { readJsonBody } from '../body.js';
import { customerDnsRecordsSchema } from '../../test-proxy/customer-dns.js';
import { FaultDefinitionError } from '../../test-proxy/faults/registry.js';
import { testProxyUsersSchema, type TestProxy } from '../../test-proxy/proxy.js';
import type { ConnectionLogFilter } from '../../test-proxy/connection-log.js';

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

export function proxyAdminRoutes({ proxy }: ProxyAdminDeps) {
  return new Hono()
    .get('/proxy/connections', (c) => {
      const q = connectionsQuery.safeParse(c.req.query());
      if (!q.success) throw new ApiError('bad_request', describe(q.error, 'query'));
      const filter: ConnectionLogFilter = {};
      for (const [k, v] of Object.entries(q.data)) if (v !== undefined) (filter as Record<string, unknown>)[k] = v;
      return ok(c, { connections: proxy.connections.list(filter) });
    })
    .delete('/proxy/connections', (c) => {
      proxy.connections.clear();
      return ok(c, { connections: [] });
    })
    .get('/proxy/faults', (c) => ok(c, { faults: proxy.faults.list() }))
    .post('/proxy/faults', async (c) => {
      const body = await readJsonBody(c);
      try {
        return ok(c, proxy.faults.add(body), 201);
      } catch (err) {
        if (err instanceof FaultDefinitionError) throw new ApiError('bad_request', err.message);
        if ((err as { code?: string }).code === 'fault_exists') throw new ApiError('conflict', (err as Error).message);
        throw err;
      }
    })
    .delete('/proxy/faults/:name', (c) => {
      const name = c.req.param('name');
      if (!proxy.faults.remove(name)) throw new ApiError('not_found', `no fault named ${JSON.stringify(name)}`);
      return ok(c, { faults: proxy.faults.list() });
    })
    .get('/proxy/users', (c) => ok(c, { users: proxy.users.map((u) => ({ username: u.username })) }))
    .put('/proxy/users', async (c) => {
      const parsed = usersBody.safeParse(await readJsonBody(c));
      // zod issue messages never carry the value, so a rejected password is not echoed.
      if (!parsed.success) throw new ApiError('bad_request', describe(parsed.error, 'body'));
      proxy.users = parsed.data.users;
      return ok(c, { users: proxy.users.map((u) => ({ username: u.username })) });
    })
    .get('/dns/customer', (c) => ok(c, { records: proxy.customerDns }))
    .put('/dns/customer', async (c) => {
      const parsed = dnsBody.safeParse(await readJsonBody(c));
      if (!parsed.success) throw new ApiError('bad_request', describe(parsed.error, 'body'));
      proxy.customerDns = parsed.data.records;
      return ok(c, { records: proxy.customerDns });
    });
}
