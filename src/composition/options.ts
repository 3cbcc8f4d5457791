import { defaultHost } from '../config.js';
import type { HostLookup } from '../dns/passthrough.js';
import type { ProxyEndpointPolicy } from '../gateway/dial.js';
import type { DirectEgress, GatewayTimeouts } from '../gateway/flow.js';
import type { SandboxUser } from '../interception/transparent/sandbox-confinement.js';
import { silentLogger, type Logger } from '../log.js';
import type { TestProxyUser } from '../test-proxy/proxy.js';

export interface EmulatorOptions {
  /**
   * API listen address; loopback unless told otherwise. Beyond loopback the token must be given
   * (option or `SEE_TOKEN`) and must not be a published one (`exposedTokenProblem`).
   */
  host?: string;
  /** Host header names the API accepts besides localhost, loopback and the listen address (DNS rebinding protection). */
  allowedHosts?: readonly string[];
  /** API port; 0 picks a free one. */
  port?: number;
  /** Keep state in memory only (the library default). */
  ephemeral?: boolean;
  /** Where state, the secrets key and the generated token live when not ephemeral. */
  dataDir?: string;
  /** API token; else `SEE_TOKEN`, else generated (and kept in the data dir). `SANDBOX0_TOKEN` is never adopted. */
  token?: string;
  /** The embedded SOCKS5 test proxy and the customer services behind it; `false` runs neither. */
  testProxy?: false | { port?: number; users?: readonly TestProxyUser[] };
  /** `allow-loopback` (default) or `platform` (the platform's protected-address rejection). */
  proxyEndpoints?: ProxyEndpointPolicy;
  /** Direct (unproxied) egress: `loopback-only` (default) or `real`. */
  directEgress?: DirectEgress;
  /** UDP with a proxy configured: `reject` (default, audited) or `direct` (as the platform's code). */
  udpEgress?: 'reject' | 'direct';
  /**
   * The platform DNS view. `passthrough` (default false): a name without a record is resolved with the
   * host's resolver (`lookup`, default `node:dns` lookup; bounded by `timeoutMs`, default 2000; answers,
   * negative ones too, kept `cacheTtlMs`, default 30000) — for the SOCKS5 proxy endpoint's hostname and
   * for names sandboxes resolve. Explicit records always win.
   */
  platformDns?: { passthrough?: boolean; lookup?: HostLookup; timeoutMs?: number; cacheTtlMs?: number };
  gatewayTimeouts?: Partial<GatewayTimeouts>;
  /**
   * How sandbox traffic reaches the gateway: `explicit` (the library default: loopback SOCKS5 / HTTP
   * CONNECT ingress ports, no privileges), `transparent` (network namespaces; needs root or
   * CAP_NET_ADMIN) or `auto` (transparent when possible, the CLI default).
   */
  interception?: 'auto' | 'transparent' | 'explicit';
  /**
   * Which transparent backend: `root` (network namespaces; root or CAP_NET_ADMIN), `rootless` (the
   * same inside a user namespace of this user's own) or `auto` (root when possible, else rootless).
   */
  transparentBackend?: 'auto' | 'root' | 'rootless';
  /**
   * Who transparent sandboxes' commands run as (default uid 65534 without capabilities; the rootless
   * backend can only run them as this user, uid 0 inside its namespace, without capabilities).
   */
  sandboxUser?: SandboxUser;
  /** More host paths to hide from transparent sandboxes (the data dir and the state dir always are). */
  sandboxMaskPaths?: string[];
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  now?: () => Date;
}

/** The options with every default applied; `dataDir` is set exactly when state is kept on disk. */
export type EmulatorSettings = ReturnType<typeof resolveOptions>;

export function resolveOptions({
  host = defaultHost,
  allowedHosts = [],
  port = 0,
  ephemeral = true,
  dataDir,
  token,
  testProxy = {},
  proxyEndpoints,
  directEgress,
  udpEgress,
  platformDns: { passthrough = false, ...passthroughOptions } = {},
  gatewayTimeouts,
  interception = 'explicit',
  transparentBackend = 'auto',
  sandboxUser,
  sandboxMaskPaths = [],
  env = process.env,
  logger = silentLogger(),
  now = () => new Date(),
}: EmulatorOptions) {
  if (!ephemeral && !dataDir) throw new Error('startEmulator: dataDir is required unless ephemeral');
  return {
    host,
    allowedHosts,
    port,
    ephemeral,
    dataDir: ephemeral ? undefined : dataDir,
    token,
    testProxy,
    proxyEndpoints,
    directEgress,
    udpEgress,
    passthrough,
    passthroughOptions,
    gatewayTimeouts,
    interception,
    transparentBackend,
    sandboxUser,
    sandboxMaskPaths,
    env,
    logger,
    now,
  };
}
