import net from 'node:net';
import { normalizeName, type PlatformDnsView } from '../dns/views.js';
import { EmulatorError } from '../errors.js';
import type { AuditLog } from '../gateway/audit.js';
import type { Gateway } from '../gateway/gateway.js';
import type { TcpFlowOutcome } from '../gateway/flow.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/db.js';
import { startExplicitIngress, type ExplicitIngress } from '../interception/explicit.js';
import { startUdpAssociation } from '../interception/udp-associate.js';

/** What `GET /_emulator/sandboxes/{id}` reports. */
export interface SandboxView {
  interception: 'transparent' | 'explicit';
  ingress?: { socks5: string; httpConnect: string };
  namespace?: string;
  address?: string;
  hosts: Record<string, string[]>;
}

export interface ConnectTarget {
  host?: string;
  ip?: string;
  port: number;
}

export interface SandboxRuntime {
  /** Brings up the sandbox's interception (idempotent). */
  attach(sandboxId: string): Promise<void>;
  detach(sandboxId: string): Promise<void>;
  view(sandboxId: string): SandboxView | undefined;
  /** Sandbox-side resolution: hosts entries first, then the platform DNS view; IP literals as is. */
  resolve(sandboxId: string, host: string): string | undefined;
  setHosts(sandboxId: string, hosts: Record<string, string[]>): void;
  /** In-process interception: a socket whose bytes go through the gateway as this sandbox's flow. */
  connect(sandboxId: string, target: ConnectTarget): Promise<net.Socket>;
  /** Like connect, with the gateway's outcome of the flow once it ends. */
  connectFlow(sandboxId: string, target: ConnectTarget): Promise<{ socket: net.Socket; flow: Promise<TcpFlowOutcome | undefined> }>;
  stop(): Promise<void>;
}

/** Reason the emulator records when a flow never starts because the sandbox cannot resolve its host. */
export const sandboxResolutionFailed = 'sandbox_resolution_failed';

export function createSandboxRuntime(deps: { store: Store; gateway: Gateway; audit: AuditLog; logger: Logger; platformDns: () => PlatformDnsView; now?: () => Date }): SandboxRuntime {
  const { store, gateway, audit, logger, now = () => new Date() } = deps;
  const ingresses = new Map<string, Promise<ExplicitIngress>>();
  const ready = new Map<string, ExplicitIngress>();

  const resolve = (sandboxId: string, host: string): string | undefined => {
    if (net.isIP(host)) return host;
    const hosts = store.sandboxes.get(sandboxId)?.hosts ?? {};
    const name = normalizeName(host);
    const local = Object.entries(hosts).find(([k]) => normalizeName(k) === name)?.[1];
    const addresses = local ?? deps.platformDns().resolve(name);
    return addresses?.find((a) => net.isIP(a) === 4) ?? addresses?.[0];
  };

  const unresolvable = (sandboxId: string, host: string, port: number, via: string) => {
    audit.record(sandboxId, 'result', {
      flow_id: `${via}-nxdomain`,
      dest_ip: '',
      dest_port: port,
      transport: 'tcp',
      host,
      classifier_result: 'unknown',
      action: 'deny',
      reason: sandboxResolutionFailed,
      outcome: 'error',
      emulator_note: `the sandbox cannot resolve ${host}, so the connection never started (the documented pitfall: the proxy resolves names only after a flow exists; add a sandbox hosts entry). The real platform records nothing here.`,
    });
  };

  // In-process connections meet their accepted end here, matched by the client's source port.
  const waiting = new Map<number, (s: net.Socket) => void>();
  const arrived = new Map<number, net.Socket>();
  let rendezvous: net.Server | undefined;
  const rendezvousPort = async (): Promise<number> => {
    if (!rendezvous) {
      const server = net.createServer((s) => {
        s.on('error', () => {});
        const port = s.remotePort ?? 0;
        const take = waiting.get(port);
        if (take) {
          waiting.delete(port);
          take(s);
        } else arrived.set(port, s);
      });
      rendezvous = server;
      await new Promise<void>((res, rej) => {
        server.once('error', rej);
        server.listen({ host: '127.0.0.1', port: 0 }, () => res());
      });
    }
    return (rendezvous.address() as net.AddressInfo).port;
  };

  const connectFlow: SandboxRuntime['connectFlow'] = async (sandboxId, target) => {
      if (!store.sandboxes.get(sandboxId)) throw new EmulatorError('sandbox_not_found', `sandbox ${sandboxId} not found`);
      const ip = target.ip ?? (target.host ? resolve(sandboxId, target.host) : undefined);
      if (!ip) {
        if (target.host) unresolvable(sandboxId, target.host, target.port, 'in-process');
        throw new EmulatorError(sandboxResolutionFailed, target.host ? `getaddrinfo ENOTFOUND ${target.host} (inside sandbox ${sandboxId})` : 'connect needs a host or an ip');
      }
      const port = await rendezvousPort();
      const client = net.connect({ host: '127.0.0.1', port });
      client.on('error', () => {});
      await new Promise<void>((res, rej) => {
        client.once('connect', () => res());
        client.once('error', rej);
      });
      const accepted = await new Promise<net.Socket>((res) => {
        const local = client.localPort ?? 0;
        const already = arrived.get(local);
        if (already) {
          arrived.delete(local);
          res(already);
        } else waiting.set(local, res);
      });
      const flow = gateway.handleTcp({ sandboxId, originalDst: { ip, port: target.port }, socket: accepted });
      return { socket: client, flow };
    };

  const attach = async (sandboxId: string) => {
    if (ingresses.has(sandboxId)) return void (await ingresses.get(sandboxId));
    const starting = startExplicitIngress({
      sandboxId,
      logger,
      resolve: (host) => resolve(sandboxId, host),
      onTcpFlow: (input) => void gateway.handleTcp(input),
      onUnresolvable: (host, port, via) => unresolvable(sandboxId, host, port, via),
      onUdpAssociate: (control) =>
        startUdpAssociation({
          sandboxId,
          control,
          resolve: (host) => resolve(sandboxId, host),
          onDatagram: (input) => void gateway.udp.handle(input),
          onUnresolvable: (host, port) => unresolvable(sandboxId, host, port, 'udp'),
        }),
    });
    ingresses.set(sandboxId, starting);
    ready.set(sandboxId, await starting);
  };

  return {
    attach,
    async detach(sandboxId) {
      const ingress = ingresses.get(sandboxId);
      ingresses.delete(sandboxId);
      gateway.udp.close(sandboxId);
      ready.delete(sandboxId);
      if (ingress) await (await ingress).stop();
    },
    view(sandboxId) {
      const record = store.sandboxes.get(sandboxId);
      if (!record) return undefined;
      const ingress = ready.get(sandboxId);
      return { interception: 'explicit', ...(ingress ? { ingress: { socks5: ingress.socks5, httpConnect: ingress.httpConnect } } : {}), hosts: record.hosts };
    },
    resolve,
    setHosts(sandboxId, hosts) {
      store.sandboxes.setHosts(sandboxId, hosts, now().toISOString());
    },
    connect: async (sandboxId, target) => (await connectFlow(sandboxId, target)).socket,
    connectFlow,
    async stop() {
      const all = [...ingresses.values()];
      ingresses.clear();
      ready.clear();
      await Promise.all(all.map(async (p) => (await p.catch(() => undefined))?.stop()));
      for (const s of arrived.values()) s.destroy();
      arrived.clear();
      if (rendezvous) await new Promise((r) => rendezvous!.close(r));
    },
  };
}
