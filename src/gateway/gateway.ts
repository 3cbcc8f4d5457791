import { networkInterfaces } from 'node:os';
import type { ControlPlaneEvents } from '../control-plane/events.js';
import type { NetworkPolicyService } from '../control-plane/network-policies.js';
import { HostResolverPassthrough, type HostLookup, type HostPassthroughOptions } from '../dns/passthrough.js';
import { DnsSnoopCache } from '../dns/snoop-cache.js';
import { PlatformDnsView } from '../dns/views.js';
import { EmulatorError } from '../errors.js';
import type { Logger } from '../log.js';
import { compilePlatform, type CompiledPlatform, type PlatformSettings } from '../policy/platform.js';
import { formatIp, parseIp } from '../policy/ip.js';
import type { AuditLog } from './audit.js';
import type { CredentialResolver } from './credentials.js';
import { createDecider, type Decider } from './decide.js';
import type { ProxyEndpointPolicy } from './dial.js';
import { defaultGatewayTimeouts, flowRetiredNote, handleTcpFlow, type DirectEgress, type TcpFlowDeps, type GatewayTimeouts, type TcpFlowInput, type TcpFlowOutcome } from './flow.js';
import { createPolicyCache, type AppliedPolicyCache } from './policy-cache.js';
import { ActiveFlows } from './active-flows.js';
import { createUdpHandler, type UdpHandler } from './udp.js';
import { QuicCryptoReassembler } from '../classify/index.js';

export interface GatewayOptions {
  events: ControlPlaneEvents;
  network: NetworkPolicyService;
  audit: AuditLog;
  credentials: CredentialResolver;
  logger: Logger;
  platformSettings?: PlatformSettings;
  platformRecords?: ConstructorParameters<typeof PlatformDnsView>[0];
  /** Names the platform DNS view has no record for go to the host's resolver (off when absent). */
  platformDnsPassthrough?: HostPassthroughOptions;
  proxyEndpoints?: ProxyEndpointPolicy;
  directEgress?: DirectEgress;
  udpEgress?: 'reject' | 'direct';
  timeouts?: Partial<GatewayTimeouts>;
  /** This host's own addresses (default: every interface address); loopback is always this host. */
  hostAddresses?: Iterable<string>;
  /** The host's resolver for the host-local guard's name check (default `node:dns` lookup); injected by tests. */
  hostLookup?: HostLookup;
}

/**
 * What is this host, for the host-local guard (policy/host-local.ts): its addresses and the ports the
 * emulator listens on. The emulator and the sandbox runtime register what they open.
 */
export interface GatewayHost {
  readonly addresses: Set<string>;
  readonly emulatorPorts: Set<number>;
  /** Adds an address in canonical text (as flows carry it). */
  addAddress(ip: string): void;
  deleteAddress(ip: string): void;
}

const canonicalIp = (ip: string): string => {
  const parsed = parseIp(ip);
  return parsed ? formatIp(parsed) : ip;
};

function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
}

export interface Gateway {
  readonly platformDns: PlatformDnsView;
  readonly platform: CompiledPlatform;
  readonly policies: AppliedPolicyCache;
  readonly decide: Decider;
  /**
   * IP → host per sandbox from the DNS answers sandboxes received (reference §4): it names SSH flows.
   * Fed by UDP replies from port 53, DNS-over-TCP responses and the transparent sandbox resolver.
   */
  readonly dnsSnoop: DnsSnoopCache;
  /** Sandbox addresses (transparent mode registers them) for the sandbox-to-sandbox deny. */
  readonly sandboxIps: Set<string>;
  /** This host's addresses and the emulator's own ports: flows there need an explicit allow rule. */
  readonly host: GatewayHost;
  readonly settings: { proxyEndpoints: ProxyEndpointPolicy; directEgress: DirectEgress; udpEgress: 'reject' | 'direct'; timeouts: GatewayTimeouts };
  /** Never rejects: an unexpected failure is logged, the socket closed, and undefined returned. */
  handleTcp(input: TcpFlowInput): Promise<TcpFlowOutcome | undefined>;
  /** UDP datagrams from sandboxes (never proxied). */
  readonly udp: UdpHandler;
  /** Flows still running (for a clean stop). */
  activeFlows(): number;
  /** The next flow id (`tcp-<n>` / `udp-<n>`), for flows audited outside the gateway's own paths. */
  nextFlowId(transport: 'tcp' | 'udp'): string;
  close(): void;
}

function gatewayHost(initial: Iterable<string>): GatewayHost {
  const addresses = new Set<string>();
  const host: GatewayHost = {
    addresses,
    emulatorPorts: new Set<number>(),
    addAddress: (ip) => void addresses.add(canonicalIp(ip)),
    deleteAddress: (ip) => void addresses.delete(canonicalIp(ip)),
  };
  for (const ip of initial) host.addAddress(ip);
  return host;
}

const gatewaySettings = (o: GatewayOptions): Gateway['settings'] => ({
  proxyEndpoints: o.proxyEndpoints ?? 'allow-loopback',
  directEgress: o.directEgress ?? 'loopback-only',
  udpEgress: o.udpEgress ?? 'reject',
  timeouts: { ...defaultGatewayTimeouts, ...o.timeouts },
});

/** The gateway's TCP entry point and its count of running flows. */
function tcpFlows(deps: TcpFlowDeps): Pick<Gateway, 'handleTcp' | 'activeFlows'> {
  let active = 0;
  return {
    async handleTcp(input) {
      active++;
      try {
        return await handleTcpFlow(deps, input);
      } catch (err) {
        // A bug must not take the process down with it; the socket is closed and the error logged.
        deps.logger.error({ err: { message: (err as Error).message }, sandboxId: input.sandboxId }, 'tcp flow failed unexpectedly');
        input.socket.destroy();
        return undefined;
      } finally {
        active--;
      }
    },
    activeFlows: () => active,
  };
}

/**
 * A policy applied with another hash retires the flows the old one admitted. UDP sessions are bound
 * to the policy too (active_flows.go ReconcileActiveFlows → reconcileUDPSessions): every open
 * session of the sandbox was admitted by the replaced policy. Returns the unsubscribe.
 */
function retireOnPolicyChange(policies: AppliedPolicyCache, activeFlows: ActiveFlows, udp: UdpHandler, logger: Logger): () => void {
  return policies.onApplied((sandboxId, state) => {
    const retired = activeFlows.retire(sandboxId, state?.hash, state === undefined);
    const sessionsBefore = udp.sessions();
    udp.close(sandboxId, flowRetiredNote);
    const udpRetired = sessionsBefore - udp.sessions();
    if (retired || udpRetired) logger.info({ sandboxId, retired, udpRetired }, 'closed flows admitted by a replaced network policy');
  });
}

/** The egress gateway (the platform's ctld role): one per emulator, shared by every interception mode. */
export function createGateway(o: GatewayOptions): Gateway {
  const compiled = compilePlatform(o.platformSettings ?? {});
  if (!compiled.ok) throw new EmulatorError('invalid_platform_settings', compiled.error.message);
  const platform = compiled.platform;
  const platformDns = new PlatformDnsView(o.platformRecords ?? {}, o.platformDnsPassthrough ? new HostResolverPassthrough(o.platformDnsPassthrough) : undefined);
  const policies = createPolicyCache({ network: o.network, events: o.events, logger: o.logger });
  // A policy applied with another hash retires the flows the old one admitted (newer upstream
  // proxy/active_flows.go ReconcileActiveFlows); a sandbox that is gone retires all of its flows.
  const activeFlows = new ActiveFlows();
  const sandboxIps = new Set<string>();
  const host = gatewayHost(o.hostAddresses ?? interfaceAddresses());
  const settings = gatewaySettings(o);
  // What the host's resolver answers for names a local proxy would resolve itself (the host-local guard).
  const hostResolver = new HostResolverPassthrough(o.hostLookup ? { lookup: o.hostLookup } : {});
  const decide = createDecider({ policies, platform: () => platform, platformDns: () => platformDns, sandboxIps: () => sandboxIps, udpEgress: settings.udpEgress, host: () => host, hostResolver });
  const counters = { tcp: 0, udp: 0 };
  const dnsSnoop = new DnsSnoopCache();
  const forgetSandbox = (id: string) => dnsSnoop.clear(id);
  const forgetAll = () => {
    dnsSnoop.clear();
    hostResolver.clear();
  };
  o.events.on('sandbox-deleted', forgetSandbox);
  o.events.on('reset', forgetAll);

  const flowDeps: TcpFlowDeps = {
    decide,
    audit: o.audit,
    credentials: o.credentials,
    platformDns: () => platformDns,
    platform: () => platform,
    proxyEndpoints: settings.proxyEndpoints,
    directEgress: settings.directEgress,
    timeouts: settings.timeouts,
    logger: o.logger,
    nextFlowId: (t: 'tcp' | 'udp') => `${t}-${++counters[t]}`,
    dnsSnoop,
    activeFlows,
    probesServerFirst: (sandboxId: string) => policies.get(sandboxId)?.compiled?.trafficRules.some((r) => r.appProtocols.includes('ssh')) ?? false,
  };

  const udp = createUdpHandler({
    decide,
    audit: o.audit,
    platformDns: () => platformDns,
    platform: () => platform,
    directEgress: settings.directEgress,
    reassembler: new QuicCryptoReassembler(),
    logger: o.logger,
    nextFlowId: () => flowDeps.nextFlowId('udp'),
    dnsSnoop,
  });

  const stopRetiring = retireOnPolicyChange(policies, activeFlows, udp, o.logger);

  return {
    platformDns,
    platform,
    policies,
    udp,
    decide,
    dnsSnoop,
    sandboxIps,
    host,
    settings,
    nextFlowId: flowDeps.nextFlowId,
    ...tcpFlows(flowDeps),
    close() {
      udp.close();
      stopRetiring();
      policies.close();
      o.events.off('sandbox-deleted', forgetSandbox);
      o.events.off('reset', forgetAll);
      dnsSnoop.clear();
    },
  };
}
