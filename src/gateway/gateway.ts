import type { ControlPlaneEvents } from '../control-plane/events.js';
import type { NetworkPolicyService } from '../control-plane/network-policies.js';
import { PlatformDnsView } from '../dns/views.js';
import { EmulatorError } from '../errors.js';
import type { Logger } from '../log.js';
import { compilePlatform, type CompiledPlatform, type PlatformSettings } from '../policy/platform.js';
import type { AuditLog } from './audit.js';
import type { CredentialResolver } from './credentials.js';
import { createDecider, type Decider } from './decide.js';
import type { ProxyEndpointPolicy } from './dial.js';
import { defaultGatewayTimeouts, handleTcpFlow, type DirectEgress, type GatewayTimeouts, type TcpFlowInput, type TcpFlowOutcome } from './flow.js';
import { createPolicyCache, type PolicyCache } from './policy-cache.js';
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
  proxyEndpoints?: ProxyEndpointPolicy;
  directEgress?: DirectEgress;
  udpEgress?: 'reject' | 'direct';
  timeouts?: Partial<GatewayTimeouts>;
}

export interface Gateway {
  readonly platformDns: PlatformDnsView;
  readonly platform: CompiledPlatform;
  readonly policies: PolicyCache;
  readonly decide: Decider;
  /** Sandbox addresses (transparent mode registers them) for the sandbox-to-sandbox deny. */
  readonly sandboxIps: Set<string>;
  readonly settings: { proxyEndpoints: ProxyEndpointPolicy; directEgress: DirectEgress; udpEgress: 'reject' | 'direct'; timeouts: GatewayTimeouts };
  /** Never rejects: an unexpected failure is logged, the socket closed, and undefined returned. */
  handleTcp(input: TcpFlowInput): Promise<TcpFlowOutcome | undefined>;
  /** UDP datagrams from sandboxes (never proxied). */
  readonly udp: UdpHandler;
  /** Flows still running (for a clean stop). */
  activeFlows(): number;
  close(): void;
}

/** The egress gateway (the platform's ctld role): one per emulator, shared by every interception mode. */
export function createGateway(o: GatewayOptions): Gateway {
  const compiled = compilePlatform(o.platformSettings ?? {});
  if (!compiled.ok) throw new EmulatorError('invalid_platform_settings', compiled.error.message);
  const platform = compiled.platform;
  const platformDns = new PlatformDnsView(o.platformRecords ?? {});
  const policies = createPolicyCache({ network: o.network, events: o.events });
  const sandboxIps = new Set<string>();
  const settings = {
    proxyEndpoints: o.proxyEndpoints ?? 'allow-loopback',
    directEgress: o.directEgress ?? 'loopback-only',
    udpEgress: o.udpEgress ?? 'reject',
    timeouts: { ...defaultGatewayTimeouts, ...o.timeouts },
  } as const;
  const decide = createDecider({ policies, platform: () => platform, platformDns: () => platformDns, sandboxIps: () => sandboxIps, udpEgress: settings.udpEgress });
  const counters = { tcp: 0, udp: 0 };
  let active = 0;

  const flowDeps = {
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
  });

  return {
    platformDns,
    platform,
    policies,
    udp,
    decide,
    sandboxIps,
    settings,
    async handleTcp(input) {
      active++;
      try {
        return await handleTcpFlow(flowDeps, input);
      } catch (err) {
        // A bug must not take the process down with it; the socket is closed and the error logged.
        o.logger.error({ err: { message: (err as Error).message }, sandboxId: input.sandboxId }, 'tcp flow failed unexpectedly');
        input.socket.destroy();
        return undefined;
      } finally {
        active--;
      }
    },
    activeFlows: () => active,
    close() {
      udp.close();
      policies.close();
    },
  };
}
