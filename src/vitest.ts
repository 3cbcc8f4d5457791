/**
 * `sandbox-egress-emulator/vitest`: one emulator per test run, one tenant per test file.
 *
 * ```ts
 * // vitest.config.ts
 * export default defineConfig({ test: { globalSetup: ['sandbox-egress-emulator/vitest'] } });
 * // a test: SANDBOX0_BASE_URL / SANDBOX0_TOKEN are this file's tenant
 * const client = new Client({ baseUrl: process.env.SANDBOX0_BASE_URL, token: process.env.SANDBOX0_TOKEN! });
 * const { proxy, interception } = inject('sandboxEgressEmulator');
 * ```
 *
 * Under `sandbox-egress-emulator run -- vitest` the setup attaches to that emulator (`SEE_EMULATOR`)
 * instead of starting one; otherwise it starts one with the interception `start` would choose. Every
 * test file gets a tenant of its own (its own team and token: sandboxes, credential sources and flows
 * nobody else sees), so files run in parallel, and runs repeat, without a reset.
 *
 * vitest stays an optional peer: this module imports nothing from it at run time.
 */
// Type-only (erased from the JS): it brings vitest's types in so ProvidedContext can be augmented.
import type {} from 'vitest';
import { fileURLToPath } from 'node:url';
import type { EmulatorInfo } from './api/admin/emulator-routes.js';
import { attachOrStartEmulator } from './attach.js';
import { discoveryValue, discoveryVariable } from './discovery.js';
import type { EmulatorOptions } from './emulator.js';

/** What the global setup provides to every test file (`inject('sandboxEgressEmulator')`). */
export interface ProvidedEmulator {
  apiUrl: string;
  /**
   * The emulator's own token (sees every tenant's flows). A test file's tenant token is in
   * `SANDBOX0_TOKEN` and `fileTenant()`.
   */
  token: string;
  /** The embedded SOCKS5 test proxy: point a network policy's `egress.proxy.address` at `address`. */
  proxy: { address: string; host: string; port: number; username: string; password: string; url: string } | null;
  /** The CA that signs the customer services' certificates (behind the test proxy). */
  fixtureCaPath: string | null;
  /** How sandbox traffic is captured: `transparent` (namespaces, as root) or `explicit`. */
  interception: EmulatorInfo['interception'];
  /** True when the emulator was started by `sandbox-egress-emulator run --` (or named by SEE_EMULATOR). */
  attached: boolean;
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
  /** vitest's resolved project config: the per-file tenant setup is added to its `setupFiles`. */
  config?: { setupFiles?: string[] };
}

/** Options of `emulatorGlobalSetup`: the emulator's, plus `tenantPerFile` (default true). */
export type EmulatorGlobalSetupOptions = EmulatorOptions & {
  /** Give every test file its own tenant (default true); false: every file shares the emulator's team. */
  tenantPerFile?: boolean;
};

/** Environment variables the global setup sets for the workers (and restores at teardown). */
const exportedEnv = ['SANDBOX0_BASE_URL', 'SANDBOX0_TOKEN', discoveryVariable] as const;

/** The setup file that makes each test file a tenant (`sandbox-egress-emulator/vitest/tenant`). */
export const tenantSetupFile = fileURLToPath(new URL('./vitest-tenant.js', import.meta.url));

/**
 * A vitest global setup with custom emulator options (the default export uses none):
 * `globalSetup: ['./emulator-setup.ts']` with `export default emulatorGlobalSetup({ ... })`. Options
 * apply only when no `run --` emulator is there to attach to. In memory and on a free port always.
 */
export function emulatorGlobalSetup({ tenantPerFile = true, ...options }: EmulatorGlobalSetupOptions = {}) {
  return async function setup(project: GlobalSetupProject): Promise<() => Promise<void>> {
    const emulator = await attachOrStartEmulator(options);
    const info = await emulator.info();
    const user = emulator.proxyUser();
    const proxyAddress = info.testProxy?.address;
    const provided: ProvidedEmulator = {
      apiUrl: emulator.apiUrl,
      token: emulator.token,
      proxy:
        proxyAddress && user
          ? {
              address: proxyAddress,
              host: proxyAddress.slice(0, proxyAddress.lastIndexOf(':')),
              port: Number(proxyAddress.slice(proxyAddress.lastIndexOf(':') + 1)),
              username: user.username,
              password: user.password,
              url: `socks5://${proxyAddress}`,
            }
          : null,
      fixtureCaPath: info.fixtureCaPath ?? null,
      interception: info.interception,
      attached: emulator.attached,
    };
    const previous = exportedEnv.map((name) => [name, process.env[name]] as const);
    // Workers start after the global setup, so they inherit these (the SDK and s0 read them); the
    // tenant setup replaces SANDBOX0_TOKEN with the file's own.
    process.env.SANDBOX0_BASE_URL = provided.apiUrl;
    process.env.SANDBOX0_TOKEN = provided.token;
    process.env[discoveryVariable] = discoveryValue({ apiUrl: emulator.apiUrl, token: emulator.token, readyFile: emulator.readyFile });
    project.provide(providedKey, provided);
    // vitest reads setupFiles when it hands each file to a worker, after the global setups ran.
    const setupFiles = project.config?.setupFiles;
    if (tenantPerFile && Array.isArray(setupFiles) && !setupFiles.includes(tenantSetupFile)) setupFiles.unshift(tenantSetupFile);
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

/** A test file's tenant, as the tenant setup file stored it. */
export interface FileTenant {
  apiUrl: string;
  token: string;
  teamId: string;
}

const tenantKey = Symbol.for('sandbox-egress-emulator.file-tenant');

/** Called by the tenant setup file (vitest-tenant.ts). */
export function setFileTenant(tenant: FileTenant): void {
  (globalThis as Record<symbol, unknown>)[tenantKey] = tenant;
  process.env.SANDBOX0_BASE_URL = tenant.apiUrl;
  process.env.SANDBOX0_TOKEN = tenant.token;
}

/** This test file's tenant (also in SANDBOX0_BASE_URL / SANDBOX0_TOKEN). */
export function fileTenant(): FileTenant {
  const tenant = (globalThis as Record<symbol, unknown>)[tenantKey] as FileTenant | undefined;
  if (!tenant) {
    throw new Error("fileTenant: no tenant for this file: add 'sandbox-egress-emulator/vitest' to globalSetup (or 'sandbox-egress-emulator/vitest/tenant' to setupFiles)");
  }
  return tenant;
}

/** Creates a tenant on the emulator at `apiUrl` with its own `token` (`POST /_emulator/tenants`). */
export async function createTenant(apiUrl: string, token: string): Promise<FileTenant> {
  const res = await fetch(`${apiUrl.replace(/\/+$/, '')}/_emulator/tenants`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  const body = (await res.json().catch(() => undefined)) as { data?: { teamId: string; token: string }; error?: { message: string } } | undefined;
  if (!res.ok || !body?.data) throw new Error(`cannot create a tenant on ${apiUrl}: ${res.status} ${body?.error?.message ?? ''}`.trim());
  return { apiUrl: apiUrl.replace(/\/+$/, ''), token: body.data.token, teamId: body.data.teamId };
}

/**
 * Back to a clean emulator (no sandboxes, credential sources or flows). With a tenant's token (the
 * default in a test file: SANDBOX0_TOKEN) only that tenant is emptied, so it is safe with files in
 * parallel; tenants start clean anyway, so this is rarely needed.
 */
export async function resetEmulator(target: { apiUrl?: string; token?: string } = {}): Promise<void> {
  const apiUrl = target.apiUrl ?? process.env.SANDBOX0_BASE_URL;
  const token = target.token ?? process.env.SANDBOX0_TOKEN;
  if (!apiUrl || !token) throw new Error('resetEmulator: no emulator: add sandbox-egress-emulator/vitest to globalSetup, or pass { apiUrl, token }');
  const res = await fetch(`${apiUrl.replace(/\/+$/, '')}/_emulator/reset`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`resetEmulator: ${apiUrl} answered ${res.status}`);
}
