import type { ControlPlaneEvents } from '../control-plane/events.js';
import type { NetworkPolicyService } from '../control-plane/network-policies.js';
import type { AuditLog } from '../gateway/audit.js';
import type { CredentialResolver } from '../gateway/credentials.js';
import { createGateway, type Gateway } from '../gateway/gateway.js';
import type { PlatformRecords } from '../dns/views.js';
import { loadWorldFixture } from '../world/default-world.js';
import type { EmulatorSettings } from './options.js';
import type { StopStack } from './stop-stack.js';

export interface GatewayDeps {
  events: ControlPlaneEvents;
  network: NetworkPolicyService;
  audit: AuditLog;
  credentials: CredentialResolver;
  platformRecords: PlatformRecords;
}

/** The gateway every sandbox flow goes through, with the platform's settings and DNS view. */
export function startGateway(deps: GatewayDeps, settings: EmulatorSettings, stops: StopStack): Gateway {
  const { proxyEndpoints, directEgress, udpEgress, passthrough, passthroughOptions, gatewayTimeouts, logger } = settings;
  const gateway = createGateway({
    ...deps,
    logger: logger.child({ component: 'gateway' }),
    platformSettings: loadWorldFixture().platform,
    proxyEndpoints,
    directEgress,
    udpEgress,
    platformDnsPassthrough: passthrough ? passthroughOptions : undefined,
    timeouts: gatewayTimeouts,
  });
  stops.push(() => gateway.close());
  return gateway;
}
