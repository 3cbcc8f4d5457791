import { createAdaptorServer } from '@hono/node-server';
import type { Server } from 'node:http';
import { adminApp, type AdminAppDeps } from '../api/admin/admin-app.js';
import { createApp } from '../api/app.js';
import { allowedHostNames } from '../api/host-header.js';
import { contextRoutes } from '../api/routes/contexts.js';
import { observabilityRoutes } from '../api/routes/observability.js';
import type { CredentialSourceService } from '../control-plane/credential-sources.js';
import type { NetworkPolicyService } from '../control-plane/network-policies.js';
import type { SandboxService } from '../control-plane/sandboxes.js';
import { withTeam, type TenantRegistry } from '../control-plane/team-context.js';
import type { Logger } from '../log.js';
import { listen } from '../net/listen.js';
import { asPortInUse } from '../net/port-check.js';
import type { ContextService } from '../sandbox/contexts.js';
import type { ApiEndpoint } from './info.js';
import type { EmulatorSettings } from './options.js';
import type { StopStack } from './stop-stack.js';

export interface ApiAppDeps extends Omit<AdminAppDeps, 'resetTeam' | 'tenants' | 'sandboxes'> {
  token: string;
  tenants: TenantRegistry;
  resetTeam: (teamId: string) => Promise<void>;
  services: { sandboxes: SandboxService; network: NetworkPolicyService; credentialSources: CredentialSourceService };
  contexts: ContextService;
  logger: Logger;
}

export type ApiApp = ReturnType<typeof createApp>;

/** The HTTP app: the Sandbox0 API, the emulator's own routes, and the admin routes under `/_emulator`. */
export function createApiApp(deps: ApiAppDeps, { host, allowedHosts }: Pick<EmulatorSettings, 'host' | 'allowedHosts'>): ApiApp {
  const { token, tenants, store, audit, gateway, runtime, contexts, services, logger } = deps;
  const { sandboxes, network, credentialSources } = services;
  const allowedHostNameSet = allowedHostNames(host, allowedHosts);
  const apiRoutes = [observabilityRoutes({ store, audit, sandboxes }), contextRoutes({ sandboxes, contexts })];
  const { info, health, reset, proxy, customerServices } = deps;
  const resetTeam = (team: string) => withTeam(team, () => deps.resetTeam(team));
  const admin = adminApp({ info, health, reset, resetTeam, tenants, store, audit, sandboxes, runtime, gateway, proxy, customerServices });
  return createApp({
    token: () => token,
    tenantTeam: (t) => tenants.teamOf(t),
    logger,
    databaseHealthy: () => store.healthy(),
    allowedHosts: () => allowedHostNameSet,
    sandboxes,
    network,
    appliedPolicy: (id) => gateway.policies.get(id),
    credentialSources,
    afterClaim: (id) => runtime.attach(id),
    admin,
    apiRoutes,
  });
}

/** Serves `app` on `host:port` (a taken port is a PortInUseError); the endpoint is filled in once bound. */
export async function listenApi(app: ApiApp, { host, port }: Pick<EmulatorSettings, 'host' | 'port'>, endpoint: ApiEndpoint, stops: StopStack): Promise<void> {
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  server.keepAliveTimeout = 5_000;
  const bound = await listen(server, { host, port }).catch((err: unknown) => {
    throw asPortInUse(err, host, port);
  });
  stops.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  endpoint.port = bound.port;
  endpoint.apiUrl = `http://${host.includes(':') ? `[${host}]` : host}:${bound.port}`;
}
