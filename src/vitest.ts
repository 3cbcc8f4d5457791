/**
 * `sandbox-egress-emulator/vitest`: one emulator per test run.
 *
 * ```ts
 * // vitest.config.ts
 * export default defineConfig({ test: { globalSetup: ['sandbox-egress-emulator/vitest'] } });
 * // a test
 * const { apiUrl, token, proxy } = inject('sandboxEgressEmulator');
 * ```
 *
 * vitest stays an optional peer: this module imports nothing from it at run time.
 */
// Type-only (erased from the JS): it brings vitest's types in so ProvidedContext can be augmented.
import type {} from 'vitest';
import { generateToken } from './config.js';
import type { EmulatorOptions } from './emulator.js';

/** What the global setup provides to every test file (`inject('sandboxEgressEmulator')`). */
export interface ProvidedEmulator {
  apiUrl: string;
  token: string;
  /** The embedded SOCKS5 test proxy: point a network policy's `egress.proxy.address` at `address`. */
  proxy: { address: string; host: string; port: number; username: string; password: string; url: string } | null;
  /** The CA that signs the customer services' certificates (behind the test proxy). */
  fixtureCaPath: string | null;
}

export const providedKey = 'sandboxEgressEmulator';

declare module 'vitest' {
  interface ProvidedContext {
    sandboxEgressEmulator: ProvidedEmulator;
  }
}

/** The part of vitest's `TestProject` a global setup uses. */
export interface GlobalSetupProject {
  provide(key: typeof providedKey, value: ProvidedEmulator): void;
}

/** Environment variables the global setup sets for the workers (and restores at teardown). */
const exportedEnv = ['SANDBOX0_BASE_URL', 'SANDBOX0_TOKEN'] as const;

/**
 * A vitest global setup with custom emulator options (the default export uses none):
 * `globalSetup: ['./emulator-setup.ts']` with `export default emulatorGlobalSetup({ ... })`.
 * In memory and on a free port always; the token is fresh for the run unless given.
 */
export function emulatorGlobalSetup(options: EmulatorOptions = {}) {
  return async function setup(project: GlobalSetupProject): Promise<() => Promise<void>> {
    const { startEmulator } = await import('./emulator.js');
    const emulator = await startEmulator({ interception: 'explicit', ...options, ephemeral: true, port: 0, token: options.token ?? generateToken() });
    const info = emulator.info();
    const user = emulator.proxy?.users[0];
    const provided: ProvidedEmulator = {
      apiUrl: emulator.apiUrl,
      token: emulator.token,
      proxy:
        emulator.proxy && user
          ? {
              address: emulator.proxy.address,
              host: emulator.proxy.address.slice(0, emulator.proxy.address.lastIndexOf(':')),
              port: emulator.proxy.port,
              username: user.username,
              password: user.password,
              url: `socks5://${emulator.proxy.address}`,
            }
          : null,
      fixtureCaPath: info.fixtureCaPath ?? null,
    };
    const previous = exportedEnv.map((name) => [name, process.env[name]] as const);
    // Workers start after the global setup, so they inherit these (the SDK and s0 read them).
    process.env.SANDBOX0_BASE_URL = provided.apiUrl;
    process.env.SANDBOX0_TOKEN = provided.token;
    project.provide(providedKey, provided);
    return async () => {
      for (const [name, value] of previous) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      await emulator.stop();
    };
  };
}

export default emulatorGlobalSetup();

/**
 * Back to a clean emulator (no sandboxes, credential sources or flows). Call it from a setup file
 * (`beforeAll(() => resetEmulator())`) to start every test file clean; only with
 * `fileParallelism: false`, since files running at the same time share the one emulator.
 */
export async function resetEmulator(target: { apiUrl?: string; token?: string } = {}): Promise<void> {
  const apiUrl = target.apiUrl ?? process.env.SANDBOX0_BASE_URL;
  const token = target.token ?? process.env.SANDBOX0_TOKEN;
  if (!apiUrl || !token) throw new Error('resetEmulator: no emulator: add sandbox-egress-emulator/vitest to globalSetup, or pass { apiUrl, token }');
  const res = await fetch(`${apiUrl.replace(/\/+$/, '')}/_emulator/reset`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`resetEmulator: ${apiUrl} answered ${res.status}`);
}
