import type { EmulatorInfo } from '../api/admin/emulator-routes.js';
import type { Gateway } from '../gateway/gateway.js';
import type { NamespaceBackend } from '../interception/namespace-backend.js';
import type { BackendCheck } from '../interception/transparent/detect.js';
import type { Logger } from '../log.js';
import { fixtureCaCertPath } from '../test-proxy/customer-services.js';
import type { EmulatorSettings } from './options.js';
import type { StopStack } from './stop-stack.js';

type InterceptionInfo = EmulatorInfo['interception'];
type Transparent = typeof import('../interception/transparent/index.js');
/** A sandbox's answer for a name (hosts entries, then the platform view), for the transparent resolver. */
type ResolverAnswer = (sandboxId: string, name: string) => string[] | undefined | Promise<string[] | undefined>;

/** How sandbox traffic reaches the gateway: the backend (transparent only), and why this mode. */
export interface Interception {
  backend: NamespaceBackend | undefined;
  info: InterceptionInfo;
  /** Where transparent sandboxes read the fixture CA (their own copy), when there is one. */
  sandboxCa: string | undefined;
}

export interface InterceptionDeps {
  gateway: Gateway;
  logger: Logger;
  /** True when the customer services run (their fixture CA is then given to sandboxes). */
  fixtureCa: boolean;
  resolverAnswer: ResolverAnswer;
}

type InterceptionSettings = Pick<EmulatorSettings, 'interception' | 'transparentBackend' | 'sandboxUser' | 'sandboxMaskPaths' | 'dataDir'>;

const explicitRequested: InterceptionInfo = {
  mode: 'explicit',
  reason: 'explicit interception was requested: each sandbox gets loopback SOCKS5 and HTTP CONNECT ingress ports (GET /_emulator/sandboxes/{id}); only programs that honour proxy settings are captured',
};

/**
 * Transparent when asked for (or possible, with `auto`), else explicit. Root is preferred; rootless
 * when root is not available (or asked for). `transparent` that cannot be had is an error; `auto`
 * falls back to explicit and says why.
 */
export async function startInterception(settings: InterceptionSettings, deps: InterceptionDeps, stops: StopStack): Promise<Interception> {
  if (settings.interception === 'explicit') return { backend: undefined, info: explicitRequested, sandboxCa: undefined };
  // Loaded only here: explicit start-up never pays for the namespace code.
  const t = await import('../interception/transparent/index.js');
  const root = settings.transparentBackend === 'rootless' ? undefined : await t.detectRootBackend();
  const rootless = root?.ok || settings.transparentBackend === 'root' ? undefined : await t.detectRootlessBackend();
  const chosen = root?.ok ? 'root' : rootless?.ok ? 'rootless' : undefined;
  if (chosen) return startTransparent(t, chosen, root, settings, deps, stops);
  const reasons = [root && !root.ok ? `root backend: ${root.reason}; fix: ${root.fix}` : undefined, rootless && !rootless.ok ? `rootless backend: ${rootless.reason}; fix: ${rootless.fix}` : undefined].filter(Boolean).join('; ');
  if (settings.interception === 'transparent') throw new Error(`transparent interception is not available (${reasons})`);
  return {
    backend: undefined,
    info: { mode: 'explicit', reason: `transparent interception is not available (${reasons}); using explicit ingress ports, which only capture programs that honour proxy settings` },
    sandboxCa: undefined,
  };
}

async function startTransparent(t: Transparent, chosen: 'root' | 'rootless', root: BackendCheck | undefined, settings: InterceptionSettings, deps: InterceptionDeps, stops: StopStack): Promise<Interception> {
  const { gateway, logger, fixtureCa, resolverAnswer } = deps;
  // The sandbox resolver's answers feed the gateway's DNS snoop cache (names SSH flows).
  const onAnswer = (id: string, name: string, addresses: string[], ttlSeconds: number) => {
    for (const address of addresses) gateway.dnsSnoop.record(id, address, name, ttlSeconds);
  };
  const confinement = {
    ...(settings.sandboxUser ? { user: settings.sandboxUser } : {}),
    maskPaths: [...(settings.dataDir === undefined ? [] : [settings.dataDir]), ...settings.sandboxMaskPaths],
    caCertPath: fixtureCa ? fixtureCaCertPath : undefined,
  };
  const options = { dns: { lookup: resolverAnswer, onAnswer }, logger, confinement };
  const backend = chosen === 'root' ? t.createRootNamespaceBackend(options) : t.createRootlessNamespaceBackend(options);
  stops.push(() => backend.stop());
  await backend.start();
  const reason =
    chosen === 'root'
      ? 'network namespaces per sandbox; nftables in the gateway namespace redirect all TCP and UDP to the gateway (root netns backend)'
      : `network namespaces per sandbox inside a user namespace of this user (rootless backend${root && !root.ok ? `; root backend not available: ${root.reason}` : ''}); nftables in the gateway namespace redirect all TCP and UDP to the gateway`;
  const info: InterceptionInfo = {
    mode: 'transparent',
    reason,
    backend: backend.kind,
    sandboxUser: t.describeSandboxUser(backend.confinement.user),
    limitations: chosen === 'rootless' ? t.rootlessLimitations(backend.confinement.user) : [],
  };
  return { backend, info, sandboxCa: t.sandboxCaPath(backend.confinement) };
}
