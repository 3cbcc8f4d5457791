import type { Emulator, EmulatorOptions } from '../emulator.js';
import { createLogger } from '../log.js';
import { parseSandboxUser } from '../interception/transparent/sandbox-confinement.js';
import { parsePort, UsageError } from './args.js';
import { writeFileAtomicPrivateSync } from '../store/write-file-atomic-private.js';
import { argvSecretWarning, readSecretFile, readSecretLine, userLines } from './secret-input.js';

/** Flags shared by `start` and `run` that shape the emulated world (not the API or state). */
export const worldFlagOptions = {
  'proxy-user': { type: 'string', multiple: true },
  'proxy-user-file': { type: 'string' },
  'no-test-proxy': { type: 'boolean' },
  'test-proxy-port': { type: 'string' },
  'proxy-endpoints': { type: 'string' },
  'direct-egress': { type: 'string' },
  'udp-egress': { type: 'string' },
  'platform-dns-passthrough': { type: 'boolean' },
  interception: { type: 'string' },
  'transparent-backend': { type: 'string' },
  'sandbox-user': { type: 'string' },
  'sandbox-privileged': { type: 'boolean' },
} as const;

/** Every flag `start` and `run` share: the API, state, logging and the world. */
export const startFlagOptions = {
  port: { type: 'string' },
  host: { type: 'string' },
  'allowed-host': { type: 'string', multiple: true },
  'data-dir': { type: 'string' },
  ephemeral: { type: 'boolean' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  'ready-file': { type: 'string' },
  'log-level': { type: 'string' },
  ...worldFlagOptions,
} as const;

export const worldFlagsHelp = `  --interception <auto|transparent|explicit>
                      how sandbox traffic reaches the gateway (default auto: transparent network
                      namespaces when root or CAP_NET_ADMIN allows, else explicit ingress ports;
                      env SEE_INTERCEPTION; \`sandbox-egress-emulator detect\` says which modes work here and why)
  --transparent-backend <auto|root|rootless>
                      root: network namespaces (root or CAP_NET_ADMIN); rootless: the same inside a user
                      namespace of your own; auto (default): root when possible, else rootless
  --sandbox-user <65534|UID[:GID]|root>
                      who transparent sandbox commands run as (default 65534, no capabilities,
                      no_new_privs); root is uid 0 still without capabilities
  --sandbox-privileged
                      with --sandbox-user root: keep root's capabilities (the sandbox can then leave
                      its namespaces)
  --proxy-user-file <f>  users of the embedded SOCKS5 test proxy, one USER:PASSWORD a line (also env
                      SEE_PROXY_USERS, one a line; default proxy-user:proxy-pass)
  --proxy-user <u:p>  a user of the test proxy (repeatable); visible to every user in ps: prefer the file
  --test-proxy-port <n>  the test proxy's port (default 0: a free one)
  --no-test-proxy     run neither the test proxy nor the customer services behind it
  --proxy-endpoints <allow-loopback|platform>
                      platform: refuse loopback proxy endpoints as the real platform does (default allow-loopback)
  --direct-egress <loopback-only|real>
                      where unproxied allowed flows may go (default loopback-only: loopback, when a
                      traffic rule names it, and platform DNS endpoint records only)
  --udp-egress <reject|direct>
                      UDP with a proxy configured: reject and audit it (default), or send it directly as
                      the platform's code does
  --platform-dns-passthrough
                      resolve names the platform DNS view has no record for with the host's resolver
                      (the proxy endpoint's hostname and names sandboxes resolve; explicit records win;
                      2 s timeout, answers kept 30 s; default off)
`;

type WorldFlagValues = {
  'proxy-user'?: string[];
  'proxy-user-file'?: string;
  'no-test-proxy'?: boolean;
  'test-proxy-port'?: string;
  'proxy-endpoints'?: string;
  'direct-egress'?: string;
  'udp-egress'?: string;
  'platform-dns-passthrough'?: boolean;
  interception?: string;
  'transparent-backend'?: string;
  'sandbox-user'?: string;
  'sandbox-privileged'?: boolean;
};

function oneOf<T extends string>(value: string | undefined, flag: string, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!allowed.includes(value as T)) throw new UsageError(`invalid ${flag} "${value}": must be one of ${allowed.join(', ')}`);
  return value as T;
}

function sandboxUserOption(value: string | undefined, privileged: boolean): Pick<EmulatorOptions, 'sandboxUser'> {
  if (value === undefined && !privileged) return {};
  try {
    return { sandboxUser: parseSandboxUser(value ?? (privileged ? 'root' : '65534'), privileged) };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Turns the world flags into emulator options; throws UsageError with the flag's name on bad values. */
export function worldOptions(values: WorldFlagValues, env: NodeJS.ProcessEnv = {}): Partial<EmulatorOptions> {
  const out: Partial<EmulatorOptions> = {
    proxyEndpoints: oneOf(values['proxy-endpoints'], '--proxy-endpoints', ['allow-loopback', 'platform'] as const),
    directEgress: oneOf(values['direct-egress'], '--direct-egress', ['loopback-only', 'real'] as const),
    udpEgress: oneOf(values['udp-egress'], '--udp-egress', ['reject', 'direct'] as const),
    interception: oneOf(values.interception ?? env.SEE_INTERCEPTION, '--interception', ['auto', 'transparent', 'explicit'] as const) ?? 'auto',
    transparentBackend: oneOf(values['transparent-backend'], '--transparent-backend', ['auto', 'root', 'rootless'] as const) ?? 'auto',
    ...sandboxUserOption(values['sandbox-user'], values['sandbox-privileged'] === true),
    ...(values['platform-dns-passthrough'] ? { platformDns: { passthrough: true } } : {}),
  };
  if (values['no-test-proxy']) {
    out.testProxy = false;
    return out;
  }
  const specs = [
    ...(values['proxy-user-file'] ? userLines(readSecretFile('--proxy-user-file', values['proxy-user-file'])) : []),
    ...(env.SEE_PROXY_USERS ? userLines(env.SEE_PROXY_USERS) : []),
    ...(values['proxy-user'] ?? []),
  ];
  const users = specs.map((spec) => {
    const at = spec.indexOf(':');
    if (at <= 0 || at === spec.length - 1) throw new UsageError(`invalid --proxy-user "${spec.slice(0, Math.max(at, 0))}:…": must be USER:PASSWORD`);
    return { username: spec.slice(0, at), password: spec.slice(at + 1) };
  });
  let port: number | undefined;
  if (values['test-proxy-port'] !== undefined) {
    port = Number(values['test-proxy-port']);
    if (!/^\d+$/.test(values['test-proxy-port']) || port > 65535) throw new UsageError(`invalid --test-proxy-port "${values['test-proxy-port']}"`);
  }
  out.testProxy = { ...(users.length ? { users } : {}), ...(port !== undefined ? { port } : {}) };
  return out;
}

/** The ready file (PRODUCT.md): everything a test needs to talk to this emulator. */
export function readyFileContents(emulator: Emulator) {
  const info = emulator.info();
  // The password is only here (mode 0600), never in /_emulator/info.
  const user = emulator.proxy?.users[0];
  return {
    apiUrl: emulator.apiUrl,
    token: emulator.token,
    ports: info.ports,
    proxy: info.testProxy ? { address: info.testProxy.address, username: user?.username, password: user?.password } : null,
    interception: info.interception,
    fixtureCaPath: info.fixtureCaPath ?? null,
    dataDir: info.dataDir,
    pid: process.pid,
    version: info.version,
  };
}

/**
 * Mode 0600 (it holds the token and the proxy password), written to an unguessable temporary name
 * created exclusively and renamed, so a reader never sees half a file and nobody can plant the name.
 */
export function writeReadyFile(path: string, emulator: Emulator): void {
  writeFileAtomicPrivateSync(path, JSON.stringify(readyFileContents(emulator), null, 2) + '\n');
}

/** The flags `start` and `run` share besides the world flags. */
interface StartFlagValues extends WorldFlagValues {
  port?: string;
  host?: string;
  'allowed-host'?: string[];
  'data-dir'?: string;
  ephemeral?: boolean;
  token?: string;
  'token-file'?: string;
  'log-level'?: string;
}

/** Warnings for secrets given in argv (`--token`, `--proxy-user`): every user of the machine sees them in ps. */
export function argvSecretWarnings(values: { token?: string; 'proxy-user'?: string[] }): string[] {
  const out: string[] = [];
  if (values.token) out.push(argvSecretWarning('the API token (--token)', '--token-file or SEE_TOKEN'));
  if (values['proxy-user']?.length) out.push(argvSecretWarning('a test proxy password (--proxy-user)', '--proxy-user-file or SEE_PROXY_USERS'));
  return out;
}

/**
 * Emulator options from `start`/`run` flags. The two differ only in defaults: `start` keeps state in
 * the data dir on the documented port and logs at info; `run` is in memory on a free port at warn.
 * Throws UsageError for a bad value.
 */
export function emulatorOptionsFromFlags(
  values: StartFlagValues,
  env: NodeJS.ProcessEnv,
  defaults: { port: number; ephemeral: boolean; dataDir?: string; logLevel: string },
): EmulatorOptions {
  const port = parsePort(values.port ?? (defaults.port === 0 ? undefined : env.SEE_PORT), '--port', defaults.port);
  const ephemeral = values.ephemeral === true || (values['data-dir'] === undefined && defaults.ephemeral);
  return {
    ...worldOptions(values, env),
    host: values.host,
    allowedHosts: [...(values['allowed-host'] ?? []), ...(env.SEE_ALLOWED_HOSTS ?? '').split(',').filter((n) => n.trim() !== '')],
    port,
    ephemeral,
    dataDir: ephemeral ? undefined : (values['data-dir'] ?? defaults.dataDir),
    token: values['token-file'] ? readSecretLine('--token-file', values['token-file']) : values.token,
    env,
    logger: createLogger({ level: values['log-level'] ?? env.SEE_LOG_LEVEL ?? defaults.logLevel }),
  };
}
