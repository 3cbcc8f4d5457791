import type { ComponentState, EmulatorInfo } from '../api/admin/emulator-routes.js';
import { packageVersion } from '../paths.js';
import type { SandboxRuntime } from '../sandbox/runtime.js';
import type { Store } from '../store/db.js';
import { fixtureCaCertPath } from '../test-proxy/customer-services.js';
import type { TestProxy } from '../test-proxy/proxy.js';
import type { EmulatorSettings } from './options.js';

/** Where the API listens: known once the server is bound, after the admin routes that report it exist. */
export interface ApiEndpoint {
  apiUrl: string;
  port: number;
}

export interface InfoDeps {
  settings: Pick<EmulatorSettings, 'ephemeral' | 'dataDir' | 'passthrough'>;
  endpoint: ApiEndpoint;
  token: string;
  interception: EmulatorInfo['interception'];
  proxy: TestProxy | undefined;
  /** True when the customer services run (their fixture CA path is then reported). */
  fixtureCa: boolean;
}

/** `GET /_emulator/info` (and `emulator.info()`): ports, token, interception, test proxy, data dir. */
export function emulatorInfo({ settings, endpoint, token, interception, proxy, fixtureCa }: InfoDeps): EmulatorInfo {
  return {
    version: packageVersion,
    apiUrl: endpoint.apiUrl,
    ports: { api: endpoint.port, ...(proxy ? { testProxy: proxy.port } : {}) },
    token,
    interception,
    platformDns: { passthrough: settings.passthrough },
    ...(proxy ? { testProxy: { address: proxy.address, users: proxy.users.map((u) => ({ username: u.username })) } } : {}),
    ...(fixtureCa ? { fixtureCaPath: fixtureCaCertPath } : {}),
    dataDir: settings.dataDir ?? null,
    ephemeral: settings.ephemeral,
  };
}

/** `GET /_emulator/health`'s components: the API answering is `api: up`. */
export function emulatorHealth({ store, runtime, proxy }: { store: Store; runtime: SandboxRuntime; proxy: TestProxy | undefined }): Record<string, ComponentState> {
  const sandboxSide = runtime.healthy();
  return {
    api: 'up',
    store: store.healthy() ? 'up' : 'down',
    gateway: sandboxSide.gateway ? 'up' : 'down',
    testProxy: proxy ? (proxy.healthy() ? 'up' : 'down') : 'disabled',
    dns: sandboxSide.dns ? 'up' : 'down',
  };
}
