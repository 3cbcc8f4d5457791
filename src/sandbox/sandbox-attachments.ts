import type { Gateway } from '../gateway/gateway.js';
import { startExplicitIngress, type ExplicitIngress } from '../interception/explicit.js';
import type { NamespaceBackend, SandboxNetwork } from '../interception/namespace-backend.js';
import { startUdpAssociation } from '../interception/udp-associate.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/db.js';
import { addressOf, pickAddress, thenApply, type NowOrLater, type SandboxNameResolver } from './sandbox-name-resolver.js';
import type { AuditUnresolvable } from './unresolvable-audit.js';

const portOf = (endpoint: string): number => Number(endpoint.slice(endpoint.lastIndexOf(':') + 1));
const ingressPorts = (ingress: ExplicitIngress): number[] => [portOf(ingress.socks5), portOf(ingress.httpConnect)];

export interface SandboxAttachmentsDeps {
  store: Store;
  gateway: Gateway;
  logger: Logger;
  resolver: SandboxNameResolver;
  unresolvable: AuditUnresolvable;
  /** Transparent interception (started by the caller); absent: explicit mode. */
  backend?: NamespaceBackend;
}

/**
 * Each attached sandbox's interception: its explicit ingress ports (SOCKS5, HTTP CONNECT, UDP
 * ASSOCIATE) always, and in transparent mode its network namespace.
 */
export class SandboxAttachments {
  private readonly ingresses = new Map<string, Promise<ExplicitIngress>>();
  private readonly ready = new Map<string, ExplicitIngress>();
  private readonly networks = new Map<string, SandboxNetwork>();
  private readonly attaching = new Map<string, Promise<void>>();

  constructor(private readonly deps: SandboxAttachmentsDeps) {}

  /** Brings up the sandbox's interception (idempotent). */
  attach(sandboxId: string): Promise<void> {
    const pending = this.attaching.get(sandboxId);
    if (pending) return pending;
    const work = this.start(sandboxId);
    this.attaching.set(sandboxId, work);
    work.catch(() => this.attaching.delete(sandboxId));
    return work;
  }

  async detach(sandboxId: string): Promise<void> {
    const { gateway, backend } = this.deps;
    this.deps.resolver.forget(sandboxId);
    await this.attaching.get(sandboxId)?.catch(() => undefined);
    this.attaching.delete(sandboxId);
    const ingress = this.ingresses.get(sandboxId);
    this.ingresses.delete(sandboxId);
    this.ready.delete(sandboxId);
    gateway.udp.close(sandboxId);
    const network = this.networks.get(sandboxId);
    this.networks.delete(sandboxId);
    if (network) {
      gateway.sandboxIps.delete(network.address);
      gateway.host.deleteAddress(network.gateway);
    }
    const stopped = ingress ? await ingress.catch(() => undefined) : undefined;
    await Promise.all([stopped?.stop(), network && backend ? backend.deleteSandbox(sandboxId) : undefined]);
    if (stopped) for (const port of ingressPorts(stopped)) gateway.host.emulatorPorts.delete(port);
  }

  /** The sandbox's explicit ingress once it listens. */
  ingress(sandboxId: string): ExplicitIngress | undefined {
    return this.ready.get(sandboxId);
  }

  /** The sandbox's network namespace (transparent mode, attached). */
  network(sandboxId: string): SandboxNetwork | undefined {
    return this.networks.get(sandboxId);
  }

  /** Every listening ingress still listens. */
  healthy(): boolean {
    return [...this.ready.values()].every((i) => i.healthy());
  }

  /** Every sandbox with interception started. */
  ids(): string[] {
    return [...new Set([...this.ingresses.keys(), ...this.networks.keys()])];
  }

  private async start(sandboxId: string): Promise<void> {
    const { store, gateway, backend } = this.deps;
    const starting = this.startIngress(sandboxId);
    this.ingresses.set(sandboxId, starting);
    const [ingress, network] = await Promise.all([starting, backend ? backend.createSandbox(sandboxId, { hosts: store.sandboxes.get(sandboxId)?.hosts ?? {} }) : undefined]);
    this.ready.set(sandboxId, ingress);
    // The ingress ports and the gateway side of the sandbox link are the emulator itself: no
    // sandbox reaches them through the gateway unless its policy names them (policy/host-local.ts).
    for (const port of ingressPorts(ingress)) gateway.host.emulatorPorts.add(port);
    if (network) {
      this.networks.set(sandboxId, network);
      gateway.sandboxIps.add(network.address);
      gateway.host.addAddress(network.gateway);
    }
  }

  private startIngress(sandboxId: string): Promise<ExplicitIngress> {
    const { gateway, logger, resolver, unresolvable } = this.deps;
    // As a program's lookup gets it, for resolve callbacks that take an address or undefined.
    const resolve = (host: string): NowOrLater<string | undefined> => thenApply(thenApply(resolver.lookup(sandboxId, host, 'ask-host'), pickAddress), addressOf);
    return startExplicitIngress({
      sandboxId,
      logger,
      resolve,
      onTcpFlow: (input) => void gateway.handleTcp(input),
      onUnresolvable: (host, port, via) => unresolvable(sandboxId, host, port, via),
      onUdpAssociate: (control) =>
        startUdpAssociation({
          sandboxId,
          control,
          resolve,
          onDatagram: (input) => void gateway.udp.handle(input),
          onUnresolvable: (host, port) => unresolvable(sandboxId, host, port, 'udp'),
        }),
    });
  }
}
