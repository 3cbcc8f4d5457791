import { Hono } from 'hono';
import { requestTeamId, type Tenant } from '../../control-plane/team-context.js';
import { ApiError } from '../error-status.js';
import { okJson, type TypedJson } from '../envelope.js';
import { describeRoute, ok, plain, responses, tag } from './openapi-operation.js';
import { arrayOf, bool, componentSchema, int, objectOf, objectWith, oneOfStrings, str, stringMap } from './openapi-schema.js';
import type { OpenApiDocument } from './openapi-types.js';

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

const healthSchema = componentSchema('Health', () => ({
  type: 'object',
  required: ['status', 'components'],
  properties: {
    status: oneOfStrings(['ok', 'degraded']),
    components: stringMap(oneOfStrings(['up', 'down', 'disabled']), 'api, store, gateway, testProxy, dns'),
  },
}));

const emulatorInfoSchema = componentSchema('EmulatorInfo', () =>
  objectOf<EmulatorInfo>({
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
          limitations: arrayOf(str(), 'what this transparent backend cannot do, each with the reason'),
        },
      }),
      platformDns: objectOf<EmulatorInfo['platformDns']>({
        required: { passthrough: bool('names without a platform DNS record are resolved with the host resolver') },
        optional: {},
      }),
      dataDir: { type: ['string', 'null'], description: 'null when ephemeral' },
      ephemeral: bool(),
    },
    optional: {
      testProxy: objectOf<NonNullable<EmulatorInfo['testProxy']>>({
        required: {
          address: str('host:port'),
          users: arrayOf(objectWith('username', str()), "RFC 1929 users' names (passwords: the ready file, GET /_emulator/proxy/users never)"),
        },
        optional: {},
      }),
      fixtureCaPath: str('the CA certificate the customer fixtures are signed with'),
      teamId: str("with a tenant's token: the tenant's team"),
    },
  }),
);

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
    .get(
      '/health',
      describeRoute({
        operationId: 'health', tags: [tag.emulator], summary: 'Component states (no token needed)', security: [],
        responses: { '200': ok('every component is up or disabled', healthSchema), '503': ok('a component is down', healthSchema) },
      }),
      (c) => {
        const components = deps.health();
        const healthy = Object.values(components).every((s) => s !== 'down');
        return okJson(c, { status: healthy ? ('ok' as const) : ('degraded' as const), components }, healthy ? 200 : 503);
      },
    )
    .get(
      '/info',
      describeRoute({
        operationId: 'info', tags: [tag.emulator], summary: 'Ports, token, interception mode, test proxy, fixture CA, data dir, version',
        responses: responses({ '200': ok('this emulator', emulatorInfoSchema) }),
      }),
      (c) => {
        const { team, token } = callerTenant(deps);
        return okJson(c, token ? { ...deps.info(), token, teamId: team } : deps.info());
      },
    )
    .post(
      '/reset',
      describeRoute({
        operationId: 'reset', tags: [tag.emulator], summary: 'Back to a clean state (keeps the token and ports)',
        description: 'Removes sandboxes, credential sources and flows; restores the default DNS views, proxy users and faults.',
        responses: responses({ '200': ok('reset', objectWith('reset', { const: true })) }),
      }),
      async (c) => {
        const { team, token } = callerTenant(deps);
        if (token) await deps.resetTeam(team!);
        else await deps.reset();
        return okJson(c, { reset: true as const });
      },
    )
    .post(
      '/tenants',
      describeRoute({
        operationId: 'createTenant', tags: [tag.emulator], summary: 'A tenant: a team of its own with its own token (emulator token only)',
        description:
          "403 with a tenant's token. A tenant's token sees only the tenant's sandboxes, credential sources and flows (info shows its token and teamId; reset empties only the tenant). The test proxy, DNS views and faults are shared. Tenants live as long as the emulator.",
        responses: responses({ '201': ok('the tenant', { type: 'object', required: ['teamId', 'token'], properties: { teamId: str(), token: str() } }) }),
      }),
      (c) => {
        if (callerTenant(deps).token) throw new ApiError('forbidden', "tenants are created with the emulator's own token");
        const { teamId, token } = deps.tenants.create();
        return okJson(c, { teamId, token }, 201);
      },
    )
    // The document as OpenAPI tools read it: not wrapped in the envelope.
    .get(
      '/openapi.json',
      describeRoute({
        operationId: 'openapi', tags: [tag.emulator], summary: 'This document', description: 'The OpenAPI document itself, not wrapped in the success envelope.',
        responses: responses({ '200': plain('an OpenAPI 3.1 document', { type: 'object', required: ['openapi', 'info', 'paths'] }) }),
      }),
      (c) => c.json(deps.openApi()) as TypedJson<OpenApiDocument>,
    );
}
