import { Hono } from 'hono';
import { ok } from '../envelope.js';

export type ComponentState = 'up' | 'down' | 'disabled';

/** What `GET /_emulator/info` reports (PRODUCT.md). */
export interface EmulatorInfo {
  version: string;
  apiUrl: string;
  ports: Record<string, number>;
  token: string;
  interception: { mode: 'transparent' | 'explicit' | 'in-process'; reason: string };
  testProxy?: { address: string; users: { username: string; password: string }[] };
  fixtureCaPath?: string;
  dataDir: string | null;
  ephemeral: boolean;
}

/** `/_emulator/health|info|reset` (health needs no token; the app's auth middleware lets it through). */
export function emulatorRoutes(deps: { info: () => EmulatorInfo; health: () => Record<string, ComponentState>; reset: () => Promise<void> }) {
  return new Hono()
    .get('/_emulator/health', (c) => {
      const components = deps.health();
      const healthy = Object.values(components).every((s) => s !== 'down');
      return c.json({ success: true, data: { status: healthy ? 'ok' : 'degraded', components } }, healthy ? 200 : 503);
    })
    .get('/_emulator/info', (c) => ok(c, deps.info()))
    .post('/_emulator/reset', async (c) => {
      await deps.reset();
      return ok(c, { reset: true });
    });
}
