import type { InferRequestType } from 'hono/client';
import { describe, expectTypeOf, it } from 'vitest';
import type {
  AdminClient,
  AdminData,
  ComponentState,
  DryRunRequest,
  DryRunResult,
  EmulatorInfo,
  NetworkAuditEvent,
  SandboxView,
} from '../../../src/index.js';
import type { ConnectionLogEntry } from '../../../src/test-proxy/connection-log.js';
import type { FaultDefinition } from '../../../src/test-proxy/faults/fault.js';

/**
 * The admin client's types come from the routes (checked by `tsc`, which compiles this file): each
 * response's `data` is the type the handler returns, each body the type its check accepts, and a
 * misspelled path, field or query parameter does not compile. Nothing here talks to a server.
 */
type Data<F extends (...args: never[]) => Promise<unknown>> = AdminData<Awaited<ReturnType<F>>>;

describe('typed admin client (types)', () => {
  it('types response data from the handlers', () => {
    expectTypeOf<Data<AdminClient['info']['$get']>>().toEqualTypeOf<EmulatorInfo>();
    expectTypeOf<Data<AdminClient['health']['$get']>>().toEqualTypeOf<{ status: 'ok' | 'degraded'; components: Record<string, ComponentState> }>();
    expectTypeOf<Data<AdminClient['reset']['$post']>>().toEqualTypeOf<{ reset: true }>();
    // No view (a sandbox whose interception is not up yet) leaves `data` out.
    expectTypeOf<Data<AdminClient['sandboxes'][':id']['$get']>>().toEqualTypeOf<SandboxView | undefined>();
    expectTypeOf<Data<AdminClient['sandboxes'][':id']['evaluate']['$post']>>().toEqualTypeOf<DryRunResult>();
    expectTypeOf<Data<AdminClient['proxy']['connections']['$get']>>().toEqualTypeOf<{ connections: ConnectionLogEntry[] }>();
    expectTypeOf<Data<AdminClient['proxy']['faults']['$post']>>().toEqualTypeOf<FaultDefinition>();
    expectTypeOf<Data<AdminClient['flows']['$get']>>().toEqualTypeOf<{ events: NetworkAuditEvent[]; next_cursor?: string; watermark?: string }>();
  });

  it('types requests from the routes: params, JSON bodies (from their zod schemas) and query', () => {
    type Evaluate = InferRequestType<AdminClient['sandboxes'][':id']['evaluate']['$post']>;
    expectTypeOf<Evaluate['param']>().toEqualTypeOf<{ id: string }>();
    expectTypeOf<Evaluate['json']>().toEqualTypeOf<DryRunRequest>();
    expectTypeOf<InferRequestType<AdminClient['sandboxes'][':id']['hosts']['$put']>['json']>().toEqualTypeOf<{ hosts: Record<string, string[]> }>();
    expectTypeOf<InferRequestType<AdminClient['proxy']['connections']['$get']>['query']['atyp']>().toEqualTypeOf<'ipv4' | 'domain' | 'ipv6' | undefined>();
  });

  it('rejects what the routes do not define', () => {
    // Compiled, never called: each line must fail to compile.
    const misuse = async (admin: AdminClient) => {
      const id = 'sb-1';
      // @ts-expect-error misspelled body field
      await admin.sandboxes[':id'].evaluate.$post({ param: { id }, json: { hots: 'api.internal.example.com', port: 443 } });
      // @ts-expect-error port is a number
      await admin.sandboxes[':id'].evaluate.$post({ param: { id }, json: { host: 'api.internal.example.com', port: '443' } });
      // @ts-expect-error transport is tcp or udp
      await admin.sandboxes[':id'].evaluate.$post({ param: { id }, json: { host: 'api.internal.example.com', port: 443, transport: 'sctp' } });
      // @ts-expect-error the path param is required
      await admin.sandboxes[':id'].$get({});
      // @ts-expect-error no such path (it is `sandboxes`)
      await admin.sandbox[':id'].$get({ param: { id } });
      // @ts-expect-error no such method on the path
      await admin.info.$post();
      // @ts-expect-error misspelled query parameter
      await admin.proxy.connections.$get({ query: { usr: 'proxy-user' } });
      const res = await admin.info.$get();
      const body = await res.json();
      if (!body.success) return;
      // @ts-expect-error misspelled response field (it is `apiUrl`)
      void body.data.apiURL;
      // @ts-expect-error the token is a string
      const port: number = body.data.token;
      void port;
    };
    expectTypeOf(misuse).toBeFunction();
  });
});
