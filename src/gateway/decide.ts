import { isIP } from 'node:net';
import type { PlatformDnsView } from '../dns/views.js';
import type { CompiledPolicy, CompiledProxy } from '../policy/compiled-policy.js';
import { describeDecision, evaluate, type Decision, type FlowClassification } from '../policy/evaluate.js';
import type { CompiledPlatform } from '../policy/platform.js';
import { describeHostLocal, guardHostLocal, hostLocalPrefix, hostLocalTarget, type HostFacts, type HostLocalReason } from '../policy/host-local.js';
import { parseIp, type ParsedIp } from '../policy/ip.js';
import type { PassthroughAnswer } from '../dns/passthrough.js';
import { compileErrorNote, type PolicyCache, type SandboxPolicyState } from './policy-cache.js';
import { joinNotes } from './emulator-note.js';

/** 127.0.0.1 as a uint32. */
const LOOPBACK_V4 = 0x7f000001;

export type ProxyTargetAtyp = 'domain' | 'ipv4' | 'ipv6';

/** What the SOCKS5 CONNECT carries (reference §5): the classified host when known, else the original IP. */
export interface ProxyTarget {
  atyp: ProxyTargetAtyp;
  host: string;
  port: number;
}

/** Reasons the emulator adds for its deliberate difference: UDP is never proxied, so it is rejected. */
export type UdpRejectReason = 'udp_not_proxied' | 'quic_not_proxied';

export type { HostLocalReason };

export interface FlowInput {
  sandboxId: string;
  /** The sandbox's own address, when known (transparent mode). */
  sourceIp?: string;
  destIp: string;
  destPort: number;
  transport: 'tcp' | 'udp';
  classification: FlowClassification;
}

export type FlowVerdict = (
  | { verdict: 'deny'; decision: Decision; reason: string; explanation: string }
  | { verdict: 'allow'; decision: Decision; route: 'direct'; explanation: string }
  | { verdict: 'allow'; decision: Decision; route: 'proxy'; proxy: CompiledProxy; target: ProxyTarget; explanation: string }
) & {
  /** The deciding policy's unenforced fields, for the flow's audit `emulator_note` (absent when none). */
  policyNote?: string;
  /** The hash of the compiled policy that decided (its "runtime binding"); undefined with no policy. */
  policyHash?: string;
};

export interface DeciderDeps {
  policies: PolicyCache;
  platform: () => CompiledPlatform;
  platformDns: () => PlatformDnsView;
  /** Addresses of every sandbox (the evaluator excludes the source's own). */
  sandboxIps: () => ReadonlySet<string>;
  /** `reject` (default, PRODUCT.md) or `direct` (what the platform's code does today). */
  udpEgress: 'reject' | 'direct';
  /** This host's addresses and the emulator's own ports, for the host-local guard. */
  host: () => HostFacts;
  /**
   * The host's resolver (its /etc/hosts included), as a SOCKS5 server on this machine that resolves
   * names itself would ask it: a proxied name it answers with a local address is host-local too.
   * `cached` answers without waiting (the decision is synchronous); `resolvedDecide` fills it first.
   */
  hostResolver?: { cached(name: string): PassthroughAnswer | undefined; resolve(name: string): Promise<PassthroughAnswer> };
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
 * The host-local guard (policy/host-local.ts) on what a flow would reach from this host: directly, or
 * from a proxy that runs on this host.
 */
class HostLocalChecks {
  constructor(private readonly deps: DeciderDeps) {}

  /** Sent directly: the destination itself, unless a platform `ip:port` endpoint record (the operator's explicit route) maps it. */
  direct(compiled: CompiledPolicy | undefined, flow: FlowInput, decision: Decision): HostLocalReason | undefined {
    const ip = parseIp(flow.destIp);
    const reason = ip && guardHostLocal(compiled, decision.matchedRuleIndex, ip, flow.destPort, this.deps.host());
    return reason && !this.deps.platformDns().endpointOverride(flow.destIp, flow.destPort) ? reason : undefined;
  }

  /**
   * Through a proxy: the target is reached from the proxy's machine, which is this host when the proxy
   * endpoint is (the embedded test proxy, a local third-party proxy). The target is the classified
   * host when there is one, so a spoofed `Host: 127.0.0.1` or `localhost` is caught here.
   */
  proxyIsHere(proxy: CompiledProxy): boolean {
    const endpoints = this.deps.platformDns().resolveEndpoint(proxy.host, proxy.port);
    return (
      endpoints?.some((e) => {
        const at = hostLocalTarget(e.host);
        return at !== undefined && hostLocalPrefix(at, this.deps.host()) !== undefined;
      }) === true
    );
  }

  /** The local addresses the host's resolver answered for a name (cached answers only), else undefined. */
  private resolvedLocal(name: string): ParsedIp[] | undefined {
    const answer = this.deps.hostResolver?.cached(name);
    if (!answer?.ok) return undefined;
    const local = answer.addresses.map((a) => parseIp(a)).filter((ip): ip is ParsedIp => ip !== undefined && hostLocalPrefix(ip, this.deps.host()) !== undefined);
    return local.length ? local : undefined;
  }

  proxied(compiled: CompiledPolicy, flow: FlowInput, proxy: CompiledProxy, target: ProxyTarget, decision: Decision): HostLocalReason | undefined {
    const literal = hostLocalTarget(target.host);
    const addresses = literal ? (hostLocalPrefix(literal, this.deps.host()) === undefined ? undefined : [literal]) : this.resolvedLocal(target.host);
    if (!addresses || !this.proxyIsHere(proxy)) return undefined;
    // The target is the classified host whenever there is one (proxyTargetFor).
    const byHost = flow.classification.kind === 'known' && !!flow.classification.host;
    for (const ip of addresses) {
      const reason = guardHostLocal(compiled, decision.matchedRuleIndex, ip, target.port, this.deps.host(), byHost);
      if (reason) return reason;
    }
    return undefined;
  }

  /**
   * Would a name, sent as the target to a proxy on this host, need the host's resolver's answer to
   * decide? Only when its answer could change the verdict: the guard would deny a loopback answer.
   */
  needsHostAnswer(flow: FlowInput, verdict: FlowVerdict): string | undefined {
    const { hostResolver } = this.deps;
    if (!hostResolver || verdict.verdict !== 'allow' || verdict.route !== 'proxy' || verdict.target.atyp !== 'domain') return undefined;
    const name = verdict.target.host;
    if (hostLocalTarget(name) || hostResolver.cached(name)) return undefined;
    const compiled = this.deps.policies.get(flow.sandboxId)?.compiled;
    const loopback: ParsedIp = { family: 4, v4: LOOPBACK_V4 };
    if (!guardHostLocal(compiled, verdict.decision.matchedRuleIndex, loopback, verdict.target.port, this.deps.host(), true)) return undefined;
    return this.proxyIsHere(verdict.proxy) ? name : undefined;
  }
}

/** A deny verdict for an allowed decision whose destination the host-local guard refuses. */
function hostLocalDeny(decision: Decision, explanation: string, reason: HostLocalReason, address: string, port: number): FlowVerdict {
  return { verdict: 'deny', decision, reason, explanation: `${explanation}; ${describeHostLocal(reason, address, port)}` };
}

/** The route of an allowed flow: rejected UDP with a proxy, through the proxy, or direct; each host-local guarded. */
function routeAllowed(deps: DeciderDeps, guard: HostLocalChecks, compiled: CompiledPolicy | undefined, flow: FlowInput, decision: Decision): FlowVerdict {
  const explanation = describeDecision(decision);
  if (flow.transport === 'udp' && compiled?.proxy && deps.udpEgress === 'reject') {
    const quic = flow.classification.kind === 'known' && !!flow.classification.host;
    const reason: UdpRejectReason = quic ? 'quic_not_proxied' : 'udp_not_proxied';
    return {
      verdict: 'deny',
      decision,
      reason,
      explanation: `${explanation}; but a SOCKS5 egress proxy is configured and ${quic ? 'QUIC' : 'UDP'} is never proxied, so the emulator rejects it (--udp-egress direct sends it directly, as the platform's code does)`,
    };
  }
  if (flow.transport === 'tcp' && compiled?.proxy) {
    const target = proxyTargetFor(flow.classification, flow.destIp, flow.destPort);
    const denied = guard.proxied(compiled, flow, compiled.proxy, target, decision);
    if (denied) return hostLocalDeny(decision, explanation, denied, target.host, target.port);
    return { verdict: 'allow', decision, route: 'proxy', proxy: compiled.proxy, target, explanation: `${explanation}; routed through the SOCKS5 proxy ${compiled.proxy.address}` };
  }
  const denied = guard.direct(compiled, flow, decision);
  if (denied) return hostLocalDeny(decision, explanation, denied, flow.destIp, flow.destPort);
  return { verdict: 'allow', decision, route: 'direct', explanation };
}

/** The verdict of one policy (none: the platform's defaults) on a flow. */
function decideWith(deps: DeciderDeps, guard: HostLocalChecks, compiled: CompiledPolicy | undefined, flow: FlowInput): FlowVerdict {
  const verifyHost = (host: string) => {
    const addresses = deps.platformDns().resolve(host);
    return addresses ? { ok: true as const, addresses } : { ok: false as const };
  };
  const decision = evaluate(
    compiled,
    deps.platform(),
    { destIp: flow.destIp, destPort: flow.destPort, transport: flow.transport, classification: flow.classification },
    { otherSandboxIps: deps.sandboxIps(), sourceIp: flow.sourceIp, verifyHost },
  );
  if (decision.action === 'deny') return { verdict: 'deny', decision, reason: decision.reason, explanation: describeDecision(decision) };
  return routeAllowed(deps, guard, compiled, flow, decision);
}

/**
 * The gateway's decision for one flow: the platform's evaluation (policy before proxy), then the route.
 * Allowed TCP goes through the policy's SOCKS5 proxy when there is one; UDP never does.
 */
export function createDecider(deps: DeciderDeps) {
  const guard = new HostLocalChecks(deps);
  const decide = (flow: FlowInput): FlowVerdict => {
    const state = deps.policies.get(flow.sandboxId);
    const verdict = decideWith(deps, guard, state?.compiled, flow);
    // Made once per compiled policy (policy-cache.ts); every flow it decides carries it.
    const note = noteOfState(state);
    if (note) verdict.policyNote = note;
    if (state?.hash !== undefined) verdict.policyHash = state.hash;
    return verdict;
  };
  /** The note of the sandbox's current policy, for a flow audited without a decision (no original destination). */
  const policyNote = (sandboxId: string): string | undefined => noteOfState(deps.policies.get(sandboxId));
  /**
   * Does the sandbox's policy, with the platform's, have domain rules (upstream HasDomainRules)? No
   * policy: none (the platform's are part of a compiled policy upstream). Datagrams are classified by
   * SNI only when there are.
   */
  const domainRulesExist = (sandboxId: string): boolean => {
    const compiled = deps.policies.get(sandboxId)?.compiled;
    if (!compiled) return false;
    const platform = deps.platform();
    return compiled.hasRuleDomains || platform.allowedDomains.size > 0 || platform.deniedDomains.size > 0;
  };
  /**
   * The decision for a flow about to be dialled: when a proxy on this host would resolve the target
   * name itself, the host's resolver is asked first (bounded, cached) and the flow decided again
   * with its answer, so a name that resolves to this host is denied before the proxy sees it.
   */
  const resolvedDecide = async (flow: FlowInput): Promise<FlowVerdict> => {
    const first = decide(flow);
    const name = guard.needsHostAnswer(flow, first);
    if (!name) return first;
    await deps.hostResolver!.resolve(name);
    return decide(flow);
  };
  return Object.assign(decide, { policyNote, domainRulesExist, resolved: resolvedDecide });
}

export type Decider = ReturnType<typeof createDecider>;

/** The policy's unenforced fields, and that the latest policy did not compile (the one deciding is older). */
function noteOfState(state: SandboxPolicyState | undefined): string | undefined {
  if (!state) return undefined;
  return joinNotes(state.unenforcedNote, state.compileError ? compileErrorNote(state.compileError, state.compiled !== undefined) : undefined);
}
