import net from 'node:net';
import { invalidHostsEntry } from '../dns/dns-name.js';
import type { PlatformDnsView } from '../dns/views.js';
import { EmulatorError } from '../errors.js';
import type { AuditLog } from '../gateway/audit.js';
import type { TcpFlowOutcome } from '../gateway/flow.js';
import type { Gateway } from '../gateway/gateway.js';
import { InProcessInterception } from '../interception/in-process.js';
import type { ExecOptions, NamespaceBackend, SandboxSubprocess } from '../interception/namespace-backend.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/db.js';
import { SandboxAttachments } from './sandbox-attachments.js';
import { createSandboxConnect, type ConnectTarget } from './sandbox-connect.js';
import { createSandboxExec } from './sandbox-exec.js';
import { addressesOf, addressOf, pickAddress, SandboxNameResolver, thenApply, type SandboxLookup } from './sandbox-name-resolver.js';
import { createDatagramSender, type DatagramResult, type DatagramTarget } from './send-datagram.js';
import { dispatchTransparent } from '../interception/transparent-dispatch.js';
import { createUnresolvableAudit } from './unresolvable-audit.js';

// The runtime composes one module per concept; these names stay importable from here.
export type { ConnectTarget } from './sandbox-connect.js';
export type { SandboxLookup } from './sandbox-name-resolver.js';
export { defaultDatagramReplyTimeoutMs, type DatagramResult, type DatagramTarget } from './send-datagram.js';
export { sandboxResolutionFailed } from './unresolvable-audit.js';

/** What `GET /_emulator/sandboxes/{id}` reports. */
export interface SandboxView {
  interception: 'transparent' | 'explicit';
  ingress?: { socks5: string; httpConnect: string };
  namespace?: string;
  address?: string;
  hosts: Record<string, string[]>;
}

export interface SandboxRuntime {
  /** Brings up the sandbox's interception (idempotent). */
  attach(sandboxId: string): Promise<void>;
  detach(sandboxId: string): Promise<void>;
  view(sandboxId: string): SandboxView | undefined;
  /**
   * Sandbox-side resolution without waiting: hosts entries first, then the platform DNS view's records
   * (and, with passthrough, cached host-resolver answers); IP literals as is.
   */
  resolve(sandboxId: string, host: string): string | undefined;
  /** Every address the sandbox's resolver answers for a name without waiting (undefined: NXDOMAIN). */
  resolveAll(sandboxId: string, host: string): string[] | undefined;
  /**
   * Sandbox-side resolution as a program's lookup gets it: hosts entries, then the platform DNS view,
   * then (with passthrough) the host's resolver; `reason` says why a name does not resolve.
   */
  lookup(sandboxId: string, host: string): Promise<SandboxLookup>;
  /** What the transparent sandbox resolver answers for a name: at once when known, else once the host's resolver answered. */
  resolverAnswer(sandboxId: string, name: string): string[] | undefined | Promise<string[] | undefined>;
  setHosts(sandboxId: string, hosts: Record<string, string[]>): void;
  /** In-process interception: a socket whose bytes go through the gateway as this sandbox's flow. */
  connect(sandboxId: string, target: ConnectTarget): Promise<net.Socket>;
  /**
   * Runs an unmodified program "inside" the sandbox: in its namespace (transparent) or on the host with
   * proxy variables (explicit). Wrapped in an object because the subprocess itself is a thenable.
   */
  exec(sandboxId: string, command: string[], options?: ExecOptions): Promise<{ subprocess: SandboxSubprocess }>;
  readonly mode: 'transparent' | 'explicit';
  /**
   * In-process interception for UDP: one datagram through the gateway's UDP path as this sandbox's,
   * from a fresh source (each call is its own 4-tuple session). Rejects only for a missing sandbox or
   * a malformed target; every gateway outcome is a result.
   */
  sendDatagram(sandboxId: string, datagram: DatagramTarget): Promise<DatagramResult>;
  /**
   * For `/_emulator/health`: `gateway` — every attached sandbox's explicit ingress ports, the in-process
   * rendezvous port once opened, and (transparent) the redirect listeners and their helper are up;
   * `dns` — the transparent sandbox resolver's sockets are bound (explicit mode: always true, as the
   * ingress asks the in-process platform view, which has no sockets to lose).
   */
  healthy(): { gateway: boolean; dns: boolean };
  /** Like connect, with the gateway's outcome of the flow once it ends. */
  connectFlow(sandboxId: string, target: ConnectTarget): Promise<{ socket: net.Socket; flow: Promise<TcpFlowOutcome | undefined> }>;
  stop(): Promise<void>;
}

export interface SandboxRuntimeDeps {
  store: Store;
  gateway: Gateway;
  audit: AuditLog;
  logger: Logger;
  platformDns: () => PlatformDnsView;
  /** Transparent interception (started by the caller); absent: explicit mode. */
  backend?: NamespaceBackend;
  /** The CA sandbox programs are told to trust (the customer fixtures' CA). */
  caCertPath?: string;
  now?: () => Date;
}

/** Wires the sandbox resolver, interception (explicit ingress, transparent dispatch, in-process) and exec. */
export function createSandboxRuntime(deps: SandboxRuntimeDeps): SandboxRuntime {
  const { store, gateway, audit, logger, backend, now = () => new Date() } = deps;
  const resolver = new SandboxNameResolver({ hosts: (id) => store.sandboxes.get(id)?.hosts, platformDns: deps.platformDns });
  const unresolvable = createUnresolvableAudit({ gateway, audit, resolver });
  const attachments = new SandboxAttachments({ store, gateway, logger, resolver, unresolvable, backend });
  const inProcess = new InProcessInterception(gateway);
  const connectFlow = createSandboxConnect({ store, resolver, unresolvable, inProcess });
  if (backend) dispatchTransparent(backend, gateway);
  const detach = (sandboxId: string) => attachments.detach(sandboxId);
  return {
    mode: backend ? 'transparent' : 'explicit',
    attach: (sandboxId) => attachments.attach(sandboxId),
    detach,
    view: (sandboxId) => viewOf(store, attachments, backend !== undefined, sandboxId),
    resolve: (sandboxId, host) => {
      const known = resolver.lookup(sandboxId, host, 'known');
      return known && addressOf(pickAddress(known));
    },
    resolveAll: (sandboxId, host) => addressesOf(resolver.lookup(sandboxId, host, 'known')),
    lookup: async (sandboxId, host) => thenApply(resolver.lookup(sandboxId, host, 'ask-host'), pickAddress),
    resolverAnswer: (sandboxId, name) => thenApply(resolver.lookup(sandboxId, name, 'ask-host'), addressesOf),
    healthy() {
      const transparent = backend?.healthy();
      return { gateway: attachments.healthy() && inProcess.healthy() && (transparent?.listeners ?? true), dns: transparent?.resolver ?? true };
    },
    setHosts(sandboxId, hosts) {
      // The admin route validates too; this also guards the library's `sandbox(id).setHosts`.
      const invalid = invalidHostsEntry(hosts);
      if (invalid) throw new EmulatorError('invalid_hosts', invalid);
      store.sandboxes.setHosts(sandboxId, hosts, now().toISOString());
      resolver.forget(sandboxId);
      if (backend && attachments.network(sandboxId)) void backend.setHosts(sandboxId, hosts);
    },
    exec: createSandboxExec({ backend, caCertPath: deps.caCertPath, hasNetwork: (id) => attachments.network(id) !== undefined, ingress: (id) => attachments.ingress(id) }),
    connect: async (sandboxId, target) => (await connectFlow(sandboxId, target)).socket,
    connectFlow,
    sendDatagram: createDatagramSender({ store, gateway, resolver, unresolvable }),
    async stop() {
      await Promise.all(attachments.ids().map((id) => detach(id).catch(() => undefined)));
      await inProcess.stop();
    },
  };
}

/** What `GET /_emulator/sandboxes/{id}` reports: undefined for a sandbox the store does not hold. */
function viewOf(store: Store, attachments: SandboxAttachments, transparent: boolean, sandboxId: string): SandboxView | undefined {
  const record = store.sandboxes.get(sandboxId);
  if (!record) return undefined;
  const ingress = attachments.ingress(sandboxId);
  const network = attachments.network(sandboxId);
  return {
    interception: transparent ? 'transparent' : 'explicit',
    ...(ingress ? { ingress: { socks5: ingress.socks5, httpConnect: ingress.httpConnect } } : {}),
    ...(network ? { namespace: network.namespace, address: network.address } : {}),
    hosts: record.hosts,
  };
}
