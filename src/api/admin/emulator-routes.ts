import { Hono } from 'hono';
import { okJson, type TypedJson } from '../envelope.js';
import type { OpenApiDocument } from './admin-openapi.js';

export type ComponentState = 'up' | 'down' | 'disabled';

/** What `GET /_emulator/info` reports (PRODUCT.md). */
export interface EmulatorInfo {
  version: string;
  apiUrl: string;
  ports: Record<string, number>;
  token: string;
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
  testProxy?: { address: string; users: { username: string; password: string }[] };
  fixtureCaPath?: string;
  dataDir: string | null;
  ephemeral: boolean;
}

export interface EmulatorRoutesDeps {
  info: () => EmulatorInfo;
  health: () => Record<string, ComponentState>;
  reset: () => Promise<void>;
  /** The admin API's OpenAPI document (`adminOpenApiDocument`). */
  openApi: () => OpenApiDocument;
}

/**
 * `/_emulator/health|info|reset|openapi.json`, relative to `/_emulator` (health needs no token; the
 * app's auth middleware lets it through).
 */
export function emulatorRoutes(deps: EmulatorRoutesDeps) {
  return new Hono()
    .get('/health', (c) => {
      const components = deps.health();
      const healthy = Object.values(components).every((s) => s !== 'down');
      return okJson(c, { status: healthy ? ('ok' as const) : ('degraded' as const), components }, healthy ? 200 : 503);
    })
    .get('/info', (c) => okJson(c, deps.info()))
    .post('/reset', async (c) => {
      await deps.reset();
      return okJson(c, { reset: true as const });
    })
    // The document as OpenAPI tools read it: not wrapped in the envelope.
    .get('/openapi.json', (c) => c.json(deps.openApi()) as TypedJson<OpenApiDocument>);
}
