import { Hono } from 'hono';
import type { SandboxService } from '../../control-plane/sandboxes.js';
import type { AuditLog } from '../../gateway/audit.js';
import type { Gateway } from '../../gateway/gateway.js';
import type { SandboxRuntime } from '../../sandbox/runtime.js';
import type { Store } from '../../store/db.js';
import type { TestProxy } from '../../test-proxy/proxy.js';
import { adminOpenApiDocument } from './admin-openapi.js';
import type { OpenApiDocument } from './openapi-types.js';
import { emulatorRoutes, type ComponentState, type EmulatorInfo, type EmulatorRoutesDeps } from './emulator-routes.js';
import { flowsRoutes } from './flows-routes.js';
import { proxyAdminRoutes } from './proxy-routes.js';
import { sandboxAdminRoutes } from './sandbox-routes.js';
import { scenarioRoutes } from './scenario-routes.js';
import type { CustomerServices } from '../../test-proxy/customer-services.js';
import { storyRoutes } from './story-routes.js';

export interface AdminAppDeps {
  info: () => EmulatorInfo;
  health: () => Record<string, ComponentState>;
  reset: () => Promise<void>;
  resetTeam: EmulatorRoutesDeps['resetTeam'];
  tenants: EmulatorRoutesDeps['tenants'];
  store: Store;
  audit: AuditLog;
  sandboxes: SandboxService;
  runtime: SandboxRuntime;
  gateway: Gateway;
  /** The embedded test proxy; without it the `/proxy/*` and `/dns/customer` routes are not served. */
  proxy?: TestProxy;
  /** The services behind the test proxy (scenario recordings name them instead of their ports). */
  customerServices?: Pick<CustomerServices, 'internalApi' | 'identify'>;
}

/**
 * Every emulator admin route, relative to `/_emulator` (the API app mounts it there, behind its auth
 * and error handling). Its type, `AdminApp`, is what the typed admin client is derived from.
 */
export function adminApp(deps: AdminAppDeps) {
  const { info, health, reset, resetTeam, tenants, store, audit, sandboxes, runtime, gateway, proxy } = deps;
  // The proxy's routes are in the type either way; without a proxy they are not served (404, as any
  // unknown route), so the empty stand-in's type is theirs.
  const proxyRoutes = proxy ? proxyAdminRoutes({ proxy }) : (new Hono() as ReturnType<typeof proxyAdminRoutes>);
  // Built on first request (zod → JSON Schema is not start-up work), from the routes served here.
  let openApiDocument: OpenApiDocument | undefined;
  const openApi = (): OpenApiDocument => (openApiDocument ??= adminOpenApiDocument({ version: info().version, routes: app.routes }));
  const app = new Hono()
    .route('/', emulatorRoutes({ info, health, reset, resetTeam, tenants, openApi }))
    .route('/', flowsRoutes({ store, audit, tenants }))
    .route('/', sandboxAdminRoutes({ sandboxes, runtime, gateway, proxy }))
    .route('/', storyRoutes({ audit, sandboxes, runtime, gateway, proxy, tenants }))
    .route('/', proxyRoutes)
    .route('/', scenarioRoutes({ store, audit, runtime, gateway, proxy, customerServices: deps.customerServices, interception: () => info().interception.mode }));
  return app;
}

/** The admin API's routes and their input and output types, relative to `/_emulator`. */
export type AdminApp = ReturnType<typeof adminApp>;
