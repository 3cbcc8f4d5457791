import { Hono } from 'hono';
import type { CredentialSourceService } from '../control-plane/credential-sources.js';
import type { NetworkPolicyService } from '../control-plane/network-policies.js';
import type { SandboxPolicyState } from '../gateway/policy-cache.js';
import type { SandboxService } from '../control-plane/sandboxes.js';
import { ApiError, asApiError } from './error-status.js';
import { asStoreUnavailable } from '../store/store-error.js';
import type { Logger } from '../log.js';
import type { AdminApp } from './admin/admin-app.js';
import { bearerAuth } from './auth.js';
import { fail } from './envelope.js';
import { credentialSourceRoutes } from './routes/credential-sources.js';
import { healthRoutes } from './routes/health.js';
import { networkRoutes } from './routes/network.js';
import { sandboxRoutes } from './routes/sandboxes.js';
import { isWebUiPath, webUiRoutes } from './web-ui.js';

import { declaredBodyLimit } from './body.js';
import { hostHeaderGuard } from './host-header.js';

export interface ApiDeps {
  token: () => string;
  /** A tenant token's team (`emulator.tenant()`), if the token is a tenant's. */
  tenantTeam?: (token: string) => string | undefined;
  logger: Logger;
  databaseHealthy: () => boolean;
  /** Host header names the API answers (DNS rebinding protection); every name when absent. */
  allowedHosts?: () => ReadonlySet<string>;
  sandboxes: SandboxService;
  network: NetworkPolicyService;
  /** The data plane's applied policy per sandbox (gateway/policy-cache.ts), for the PUT's compile warning. */
  appliedPolicy?: (sandboxId: string) => SandboxPolicyState | undefined;
  credentialSources: CredentialSourceService;
  /** Awaited after a claim, before it is answered (sandbox runtime start). */
  afterClaim?: (sandboxId: string) => Promise<void>;
  /** The emulator admin API (`adminApp`), served under `/_emulator`. */
  admin: AdminApp;
  /** Extra Sandbox0 API sub-apps with absolute paths (e.g. contexts, observability). */
  apiRoutes?: Hono[];
}

export function createApp(deps: ApiDeps) {
  const app = new Hono();
  const auth = bearerAuth(deps.token, deps.tenantTeam);

  app.onError((err, c) => {
    const answered = asApiError(err);
    if (answered) return fail(c, answered);
    // The database's condition (locked past the busy timeout, disk full): the write was rolled back and
    // a retry may work, so 503 with a stable message rather than a 500.
    const store = asStoreUnavailable(err);
    if (store) {
      deps.logger.warn({ err: { message: err.message, code: store.sqliteCode }, method: c.req.method, path: c.req.path }, 'database unavailable for an API request');
      return fail(c, new ApiError('unavailable', store.message));
    }
    deps.logger.error({ err: { message: err.message, code: (err as { code?: unknown }).code } }, 'unhandled API error');
    return fail(c, new ApiError('internal_error', 'internal error'));
  });
  app.notFound((c) => fail(c, new ApiError('not_found', `route not found: ${c.req.method} ${c.req.path}`)));

  if (deps.allowedHosts) app.use('*', hostHeaderGuard(deps.allowedHosts));
  app.use('*', declaredBodyLimit);
  app.use('/api/*', auth);
  // Health and the web view's static files need no token (the page asks for it and sends it to the API).
  app.use('/_emulator/*', async (c, next) => (c.req.path === '/_emulator/health' || isWebUiPath(c.req.path) ? next() : auth(c, next)));

  app.route('/', webUiRoutes());
  app.route('/', healthRoutes({ databaseHealthy: deps.databaseHealthy }));
  app.route('/', sandboxRoutes({ sandboxes: deps.sandboxes, afterClaim: deps.afterClaim }));
  app.route('/', networkRoutes({ network: deps.network, appliedPolicy: deps.appliedPolicy }));
  app.route('/', credentialSourceRoutes({ credentialSources: deps.credentialSources }));
  for (const extra of deps.apiRoutes ?? []) app.route('/', extra);
  app.route('/_emulator', deps.admin);
  return app;
}
