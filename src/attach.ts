import { readFileSync } from 'node:fs';
import type { EmulatorInfo } from './api/admin/emulator-routes.js';
import { adminClient, adminData, type AdminClient } from './api/admin/client.js';
import type { Tenant } from './control-plane/team-context.js';
import { readDiscovery, type DiscoveredEmulator } from './discovery.js';
import type { EmulatorOptions } from './emulator.js';

/** An emulator this process uses: one `run --` (or the user) started, or one it started itself. */
export interface EmulatorHandle {
  readonly apiUrl: string;
  /** The emulator's own token (team-local: sees every tenant's flows). */
  readonly token: string;
  /** True when another process started it (`SEE_EMULATOR`); `stop()` then leaves it running. */
  readonly attached: boolean;
  readonly readyFile?: string;
  readonly admin: AdminClient;
  info(): Promise<EmulatorInfo>;
  /**
   * The test proxy's first user with its password: `/_emulator/info` names users without passwords,
   * so an attached emulator's comes from its ready file (mode 0600, written by `run`), a started one's
   * from the process itself. Undefined without a test proxy or a readable ready file.
   */
  proxyUser(): { username: string; password: string } | undefined;
  /** A tenant: a team and token of its own (`POST /_emulator/tenants`). */
  tenant(): Promise<Tenant & { apiUrl: string }>;
  /** Stops the emulator if this process started it. */
  stop(): Promise<void>;
}

/** The proxy user a ready file holds (`{ proxy: { username, password } }`), if it can be read. */
function readyFileProxyUser(path: string | undefined): { username: string; password: string } | undefined {
  if (!path) return undefined;
  try {
    const proxy = (JSON.parse(readFileSync(path, 'utf8')) as { proxy?: { username?: unknown; password?: unknown } | null }).proxy;
    return typeof proxy?.username === 'string' && typeof proxy.password === 'string' ? { username: proxy.username, password: proxy.password } : undefined;
  } catch {
    return undefined;
  }
}

function handleFor(target: DiscoveredEmulator, attached: boolean, stop: () => Promise<void>): EmulatorHandle {
  const admin = adminClient(target.apiUrl, target.token);
  return {
    apiUrl: target.apiUrl,
    token: target.token,
    attached,
    ...(target.readyFile ? { readyFile: target.readyFile } : {}),
    admin,
    info: () => adminData(admin.info.$get()),
    proxyUser: () => readyFileProxyUser(target.readyFile),
    tenant: async () => ({ ...(await adminData(admin.tenants.$post())), apiUrl: target.apiUrl }),
    stop,
  };
}

/**
 * The emulator named by `SEE_EMULATOR` (exported by `sandbox-egress-emulator run -- <cmd>`), checked
 * with a call to its info; else a new one started here, in memory on a free port, with the
 * interception `start` would choose (`SEE_INTERCEPTION`, else `auto`: transparent when root or
 * CAP_NET_ADMIN allows) unless `options.interception` says otherwise.
 */
export async function attachOrStartEmulator(options: EmulatorOptions = {}, env: NodeJS.ProcessEnv = process.env): Promise<EmulatorHandle> {
  const discovered = readDiscovery(env);
  if (discovered) {
    const handle = handleFor(discovered, true, async () => {});
    try {
      await handle.info();
    } catch (err) {
      throw new Error(`SEE_EMULATOR names ${discovered.apiUrl}, which did not answer: ${(err as Error).message}`, { cause: err });
    }
    return handle;
  }
  const { startEmulator } = await import('./emulator.js');
  const { generateToken } = await import('./config.js');
  const interception = options.interception ?? (env.SEE_INTERCEPTION as EmulatorOptions['interception']) ?? 'auto';
  const emulator = await startEmulator({ ...options, interception, ephemeral: true, port: options.port ?? 0, token: options.token ?? generateToken() });
  const handle = handleFor({ apiUrl: emulator.apiUrl, token: emulator.token }, false, () => emulator.stop());
  return { ...handle, proxyUser: () => emulator.proxy?.users[0], tenant: async () => emulator.tenant() };
}
