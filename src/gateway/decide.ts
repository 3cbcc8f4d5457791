import { isIP } from 'node:net';
import type { PlatformDnsView } from '../dns/views.js';
import type { CompiledProxy } from '../policy/compiled-policy.js';
import { describeDecision, evaluate, type Decision, type FlowClassification } from '../policy/evaluate.js';
import type { CompiledPlatform } from '../policy/platform.js';
import type { PolicyCache } from './policy-cache.js';

export type ProxyTargetAtyp = 'domain' | 'ipv4' | 'ipv6';

/** What the SOCKS5 CONNECT carries (reference §5): the classified host when known, else the original IP. */
export interface ProxyTarget {
  atyp: ProxyTargetAtyp;
  host: string;
  port: number;
}

/** Reasons the emulator adds for its deliberate difference: UDP is never proxied, so it is rejected. */
export type UdpRejectReason = 'udp_not_proxied' | 'quic_not_proxied';

export interface FlowInput {
  sandboxId: string;
  /** The sandbox's own address, when known (transparent mode). */
  sourceIp?: string;
  destIp: string;
  destPort: number;
  transport: 'tcp' | 'udp';
  classification: FlowClassification;
}

export type FlowVerdict =
  | { verdict: 'deny'; decision: Decision; reason: string; explanation: string }
  | { verdict: 'allow'; decision: Decision; route: 'direct'; explanation: string }
  | { verdict: 'allow'; decision: Decision; route: 'proxy'; proxy: CompiledProxy; target: ProxyTarget; explanation: string };

export interface DeciderDeps {
  policies: PolicyCache;
  platform: () => CompiledPlatform;
  platformDns: () => PlatformDnsView;
  /** Addresses of every sandbox (the evaluator excludes the source's own). */
  sandboxIps: () => ReadonlySet<string>;
  /** `reject` (default, PRODUCT.md) or `direct` (what the platform's code does today). */
  udpEgress: 'reject' | 'direct';
}

export function proxyTargetFor(classification: FlowClassification, destIp: string, destPort: number): ProxyTarget {
  const host = classification.kind === 'known' ? classification.host : undefined;
  if (host) {
    const family = isIP(host);
    return { atyp: family === 4 ? 'ipv4' : family === 6 ? 'ipv6' : 'domain', host, port: destPort };
  }
  return { atyp: isIP(destIp) === 6 ? 'ipv6' : 'ipv4', host: destIp, port: destPort };
}

/**
 * The gateway's decision for one flow: the platform's evaluation (policy before proxy), then the route.
 * Allowed TCP goes through the policy's SOCKS5 proxy when there is one; UDP never does.
 */
export function createDecider(deps: DeciderDeps) {
  const verifyHost = (host: string) => {
    const addresses = deps.platformDns().resolve(host);
    return addresses ? { ok: true as const, addresses } : { ok: false as const };
  };

  return function decide(flow: FlowInput): FlowVerdict {
    const state = deps.policies.get(flow.sandboxId);
    const compiled = state?.compiled;
    const decision = evaluate(
      compiled,
      deps.platform(),
      { destIp: flow.destIp, destPort: flow.destPort, transport: flow.transport, classification: flow.classification },
      { otherSandboxIps: deps.sandboxIps(), sourceIp: flow.sourceIp, verifyHost },
    );
    const explanation = describeDecision(decision);
    if (decision.action === 'deny') return { verdict: 'deny', decision, reason: decision.reason, explanation };

    if (flow.transport === 'udp') {
      if (compiled?.proxy && deps.udpEgress === 'reject') {
        const quic = flow.classification.kind === 'known' && !!flow.classification.host;
        const reason: UdpRejectReason = quic ? 'quic_not_proxied' : 'udp_not_proxied';
        return {
          verdict: 'deny',
          decision,
          reason,
          explanation: `${explanation}; but a SOCKS5 egress proxy is configured and ${quic ? 'QUIC' : 'UDP'} is never proxied, so the emulator rejects it (--udp-egress direct sends it directly, as the platform's code does)`,
        };
      }
      return { verdict: 'allow', decision, route: 'direct', explanation };
    }
    if (compiled?.proxy) {
      const target = proxyTargetFor(flow.classification, flow.destIp, flow.destPort);
      return { verdict: 'allow', decision, route: 'proxy', proxy: compiled.proxy, target, explanation: `${explanation}; routed through the SOCKS5 proxy ${compiled.proxy.address}` };
    }
    return { verdict: 'allow', decision, route: 'direct', explanation };
  };
}

export type Decider = ReturnType<typeof createDecider>;
