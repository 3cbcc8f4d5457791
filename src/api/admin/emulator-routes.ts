import { Hono } from 'hono';
import { requestTeamId, type Tenant } from '../../control-plane/team-context.js';
import { ApiError } from '../error-status.js';
import { okJson, type TypedJson } from '../envelope.js';
import type { OpenApiDocument } from './admin-openapi.js';

export type ComponentState = 'up' | 'down' | 'disabled';

/** What `GET /_emulator/info` reports (PRODUCT.md). */
export interface EmulatorInfo {
  version: string;
  apiUrl: string;
  ports: Record<string, number>;
  token: string;
  /** With a tenant's token: its team (and `token` is the tenant's). */
  teamId?: string;
  interception: {
    mode: 'transparent' | 'explicit' | 'in-process';
    reason: string;
    /** Transparent only: which backend, who sandbox commands run as, and what this backend cannot do (with the reason). */
    backend?: 'root-netns' | 'rootless-userns';
    sandboxUser?: string;
    limitations?: string[];
  };
  /** `passthrough`: names without a platform DNS record go to the host's resolver (`--platform-dns-passthrough`). */
  platformDns: { passthrough: boolean };
  /** User names only: a password is in the ready file (mode 0600) and on the library's `emulator.proxy.users`. */
  testProxy?: { address: string; users: { username: string }[] };
  fixtureCaPath?: string;
  dataDir: string | null;
  ephemeral: boolean;
}

export interface EmulatorRoutesDeps {
  info: () => EmulatorInfo;
  health: () => Record<string, ComponentState>;
  reset: () => Promise<void>;
  /** A tenant's reset: only its own sandboxes, credential sources and flows. */
  resetTeam: (teamId: string) => Promise<void>;
  tenants: { create(): Tenant; tokenOf(teamId: string): string | undefined };
  /** The admin API's OpenAPI document (`adminOpenApiDocument`). */
  openApi: () => OpenApiDocument;
}

/** The tenant the request's token belongs to, if it is a tenant's (not the emulator's own token). */
function callerTenant(deps: EmulatorRoutesDeps): { team?: string; token?: string } {
  const team = requestTeamId();
  return { team, token: team ? deps.tenants.tokenOf(team) : undefined };
}

/**
 * `/_emulator/health|info|reset|tenants|openapi.json`, relative to `/_emulator` (health needs no token; the
 * app's auth middleware lets it through).
 */
export function emulatorRoutes(deps: EmulatorRoutesDeps) {
  return new Hono()
    .get('/health', (c) => {
      const components = deps.health();
      const healthy = Object.values(components).every((s) => s !== 'down');
      return okJson(c, { status: healthy ? ('ok' as const) : ('degraded' as const), components }, healthy ? 200 : 503);
    })
    .get('/info', (c) => {
      const { team, token } = callerTenant(deps);
      return okJson(c, token ? { ...deps.info(), token, teamId: team } : deps.info());
    })
    .post('/reset', async (c) => {
      const { team, token } = callerTenant(deps);
      if (token) await deps.resetTeam(team!);
      else await deps.reset();
      return okJson(c, { reset: true as const });
    })
    .post('/tenants', (c) => {
      if (callerTenant(deps).token) throw new ApiError('forbidden', "tenants are created with the emulator's own token");
      const { teamId, token } = deps.tenants.create();
      return okJson(c, { teamId, token }, 201);
    })
    // The document as OpenAPI tools read it: not wrapped in the envelope.
    .get('/openapi.json', (c) => c.json(deps.openApi()) as TypedJson<OpenApiDocument>);
}
