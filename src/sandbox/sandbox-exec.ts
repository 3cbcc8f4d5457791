import type { ExplicitIngress } from '../interception/explicit.js';
import type { ExecOptions, NamespaceBackend, SandboxSubprocess } from '../interception/namespace-backend.js';

/** Variables that make common TLS clients trust the fixture CA (curl, OpenSSL, Node, Python requests). */
function caEnv(caCertPath: string | undefined): Record<string, string> {
  return caCertPath ? { SSL_CERT_FILE: caCertPath, CURL_CA_BUNDLE: caCertPath, NODE_EXTRA_CA_CERTS: caCertPath, REQUESTS_CA_BUNDLE: caCertPath } : {};
}

/** Explicit mode: the program runs on the host and only reaches the gateway if it honours these. */
function proxyEnv(ingress: ExplicitIngress | undefined): Record<string, string> {
  if (!ingress) return {};
  return {
    HTTPS_PROXY: `http://${ingress.httpConnect}`,
    https_proxy: `http://${ingress.httpConnect}`,
    HTTP_PROXY: `http://${ingress.httpConnect}`,
    http_proxy: `http://${ingress.httpConnect}`,
    ALL_PROXY: `socks5h://${ingress.socks5}`,
    all_proxy: `socks5h://${ingress.socks5}`,
    NO_PROXY: '',
    no_proxy: '',
  };
}

export interface SandboxExecDeps {
  /** Transparent interception; absent: explicit mode. */
  backend?: NamespaceBackend;
  /** The CA sandbox programs are told to trust (the customer fixtures' CA). */
  caCertPath?: string;
  /** Whether the sandbox has its network namespace (transparent mode, attached). */
  hasNetwork: (sandboxId: string) => boolean;
  /** The sandbox's explicit ingress once it listens. */
  ingress: (sandboxId: string) => ExplicitIngress | undefined;
}

/** Wrapped in an object because the subprocess itself is a thenable. */
export type SandboxExec = (sandboxId: string, command: string[], options?: ExecOptions) => Promise<{ subprocess: SandboxSubprocess }>;

/**
 * Runs an unmodified program "inside" the sandbox: in its namespace (transparent) or on the host with
 * proxy variables (explicit).
 */
export function createSandboxExec(deps: SandboxExecDeps): SandboxExec {
  const { backend } = deps;
  return async (sandboxId, command, options = {}) => {
    const env = { ...caEnv(deps.caCertPath), ...options.env };
    if (backend && deps.hasNetwork(sandboxId)) return { subprocess: backend.exec(sandboxId, command, { ...options, env }) };
    const proxy = proxyEnv(deps.ingress(sandboxId));
    const [file, ...args] = command;
    // execa is loaded on first use: it is one of the heaviest imports and `start` must be quick.
    const { execa } = await import('execa');
    const subprocess = execa(file!, args, {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/', ...proxy, ...env },
      extendEnv: false,
      cwd: options.cwd,
      timeout: options.timeoutMs,
      input: options.input,
      reject: false,
      all: false,
      stripFinalNewline: false,
    }) as unknown as SandboxSubprocess;
    return { subprocess };
  };
}
