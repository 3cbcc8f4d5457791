/**
 * The decision for one flow, exactly as ctld's decideTraffic with its policy helpers
 * (reference §3.2–§3.5). Synchronous and pure: the host-verification lookup is injected and answered
 * from what the gateway already resolved.
 *
 * `compiled === undefined` means the sandbox has no policy at all (never set, or its only policy failed
 * to compile): upstream's store then hands decideTraffic a nil policy, which allows every destination,
 * passes unknown traffic through, applies no platform rule (not even sandbox-to-sandbox) and skips host
 * verification; known traffic gets `use-adapter`/`allowed`.
 */
import type ipaddr from 'ipaddr.js';
import type { AppProtocol, UnknownReason } from './types.js';
import type { CompiledPolicy, Transport } from './compiled-policy.js';
import type { CompiledPlatform } from './platform.js';
import type { Decision, DecisionBasis, DecisionPhase, VerificationReason } from './decision.js';
import { cidrsContain, cidrsContainV4, formatIp, ipEquals, parseIp, parseIPv4, type CompiledCidr } from './ip.js';
import { appProtocolBit, normalizeHost, type RuleProbe } from './match.js';
import { isCloudMetadataAddress } from './cloud-metadata.js';
import { splitHostPort } from '../go/net.js';

export { describeDecision } from './decision.js';
export type { Decision, DecisionBasis, DecisionPhase, VerificationReason } from './decision.js';

export type FlowClassification =
  | {
      kind: 'known';
      appProtocol: AppProtocol;
      /** Host from the classifier (SNI, HTTP Host, DNS query name); absent for hostless protocols. */
      host?: string;
      /** `dns-cache`: inferred from the sandbox's snooped DNS answers (ssh); never host-verified. */
      hostSource?: 'classifier' | 'dns-cache';
    }
  | { kind: 'unknown'; reason: UnknownReason };

export interface FlowFacts {
  /** The original destination address (IPv4 in practice). */
  destIp: string;
  destPort: number;
  transport: Transport;
  classification: FlowClassification;
}

export type HostLookup = { ok: true; addresses: readonly string[] } | { ok: false };

export interface EvaluateContext {
  /** Addresses of the other sandboxes (canonical text; the source's own address excluded). */
  otherSandboxIps: ReadonlySet<string>;
  /** The source sandbox's own address, never treated as "another sandbox" even if in the set. */
  sourceIp?: string;
  /** Host verification resolver (§3.4). Without it no verification happens, as with no verifier upstream. */
  verifyHost?: (host: string) => HostLookup;
}

type Mode = 'allow-all' | 'block-all' | 'other';

const modeOf = (mode: string): Mode => (mode === 'allow-all' ? 'allow-all' : mode === 'block-all' ? 'block-all' : 'other');

/** Reused rule probe: evaluate is synchronous and the probe never escapes, so one object suffices. */
const probe: RuleProbe = { v4: -1, v6: undefined, port: 0, transport: 'tcp', host: '', appBit: 0 };

/** Destination phase outcome; `rule` is the matched traffic rule index or -1. */
interface DestinationVerdict {
  allow: boolean;
  basis: DecisionBasis;
  rule: number;
}
const verdict: DestinationVerdict = { allow: true, basis: 'allow-all-default', rule: -1 };

/** Is the destination another sandbox? `destIpCanonical`: destIp is a plain dotted quad (Go's IP.String()). */
function isOtherSandbox(ctx: EvaluateContext, destIp: string, destIpCanonical: boolean): boolean {
  if (ctx.otherSandboxIps.size === 0) return false;
  const text = destIpCanonical ? destIp : formatIp(probe.v4 >= 0 ? { family: 4, v4: probe.v4 } : { family: 6, v6: probe.v6! });
  if (ctx.sourceIp !== undefined && text === ctx.sourceIp) return false;
  return ctx.otherSandboxIps.has(text);
}

/** Destination containment without building a ParsedIp on the IPv4 path. */
function destIn(cidrs: readonly CompiledCidr[]): boolean {
  if (cidrs.length === 0) return false;
  if (probe.v4 >= 0) return cidrsContainV4(cidrs, probe.v4);
  return probe.v6 !== undefined && cidrsContain(cidrs, { family: 6, v6: probe.v6 });
}

function setVerdict(allow: boolean, basis: DecisionBasis, rule = -1): DestinationVerdict {
  verdict.allow = allow;
  verdict.basis = basis;
  verdict.rule = rule;
  return verdict;
}

/** §3.2: platform checks, then first-matching traffic rule, then the mode's default. */
function destinationPhase(
  compiled: CompiledPolicy,
  mode: Mode,
  platform: CompiledPlatform,
  ctx: EvaluateContext,
  destIp: string,
  destIpCanonical: boolean,
): DestinationVerdict {
  if (isOtherSandbox(ctx, destIp, destIpCanonical)) return setVerdict(false, 'other-sandbox');
  if (destIn(platform.deniedCidrs)) return setVerdict(false, 'platform-denied-cidr');
  if (destIn(platform.allowedCidrs)) return setVerdict(true, 'platform-allowed-cidr');
  if (compiled.trafficRules.length > 0) {
    const index = compiled.ruleIndex.firstMatch(probe);
    if (index >= 0) return setVerdict(compiled.trafficRules[index]!.action === 'allow', 'traffic-rule', index);
    if (mode === 'allow-all') return setVerdict(true, 'allow-all-default');
    return setVerdict(false, mode === 'block-all' ? 'block-all-default' : 'unsupported-mode');
  }
  if (mode === 'allow-all') return setVerdict(true, 'allow-all-default');
  if (mode === 'block-all') {
    // Without rules, block-all lets a host on only when platform allowed domains exist; the domain
    // phase then denies every host that is not one of them.
    if (probe.host !== '' && platform.allowedDomains.size > 0) return setVerdict(true, 'platform-domain-allowlist');
    return setVerdict(false, 'block-all-default');
  }
  return setVerdict(false, 'unsupported-mode');
}

function sameAsDest(address: string, v4: number, v6: ipaddr.IPv6 | undefined): boolean {
  const literal = parseIPv4(address);
  if (literal >= 0) return literal === v4;
  const parsed = parseIp(address);
  if (parsed === undefined) return false;
  if (parsed.family === 4) return parsed.v4 === v4;
  return v6 !== undefined && ipEquals(parsed, { family: 6, v6 });
}

function verifyHost(ctx: EvaluateContext, host: string): VerificationReason | undefined {
  // Copied out of the shared probe: the injected resolver may itself call evaluate.
  const v4 = probe.v4;
  const v6 = probe.v6;
  // Upstream's verifier normalises the host again (host_verifier.go:47 @b1f245c2, normalizeHost with
  // SplitHostPort): a bare IPv6 literal (what `[v6]:port` classified to) becomes empty, and an empty
  // host fails verification, which is reported as host_resolution_failed.
  if (host.includes(':')) {
    const split = splitHostPort(host);
    if (!split.ok || split.host === '') return 'host_resolution_failed';
    host = split.host;
  }
  // An IP-literal host is checked against the destination without a lookup.
  if ((parseIPv4(host) >= 0 || host.includes(':')) && parseIp(host) !== undefined) {
    return sameAsDest(host, v4, v6) ? undefined : 'host_dest_mismatch';
  }
  const answer = ctx.verifyHost!(host);
  if (!answer.ok || answer.addresses.length === 0) return 'host_resolution_failed';
  for (let i = 0; i < answer.addresses.length; i++) {
    if (sameAsDest(answer.addresses[i]!.trim(), v4, v6)) return undefined;
  }
  return 'host_dest_mismatch';
}

type ReasonOf<A extends Decision['action']> = Extract<Decision, { action: A }>['reason'];

/** One object per decision, with the matched rule when the destination phase matched one. */
function decide<A extends Decision['action']>(
  action: A,
  reason: ReasonOf<A>,
  phase: DecisionPhase,
  basis: DecisionBasis,
  compiled: CompiledPolicy,
  rule: number,
): Decision {
  if (rule < 0) return { action, reason, phase, basis } as Decision;
  return { action, reason, phase, basis, matchedRule: compiled.trafficRules[rule]!.name, matchedRuleIndex: rule } as Decision;
}

/**
 * Loads the shared match probe with a flow's destination, host and app protocol; whether the flow has
 * a destination address, and its IPv4 form (negative when it is not IPv4 in the dotted form).
 */
function loadProbe(flow: FlowFacts, host: string, appBit: number): { hasDest: boolean; v4: number } {
  const v4 = parseIPv4(flow.destIp);
  let hasDest = v4 >= 0;
  probe.v4 = v4;
  probe.v6 = undefined;
  if (!hasDest) {
    const parsed = parseIp(flow.destIp);
    if (parsed !== undefined) {
      hasDest = true;
      if (parsed.family === 4) probe.v4 = parsed.v4;
      else probe.v6 = parsed.v6;
    }
  }
  probe.port = flow.destPort;
  probe.transport = flow.transport;
  // Unknown traffic is matched with no host and no protocol (ctld's AllowEgressL4).
  probe.host = host;
  probe.appBit = appBit;
  return { hasDest, v4 };
}

/** Decide one flow (reference §3.5 decideTraffic). */
export function evaluate(
  compiled: CompiledPolicy | undefined,
  platform: CompiledPlatform,
  flow: FlowFacts,
  ctx: EvaluateContext,
): Decision {
  const classification = flow.classification;
  // Newer upstream (policy/metadata.go): metadata destinations are denied first, even with no policy;
  // in the destination phase (l4_denied) when it runs, else by the unknown-traffic fallback.
  const metadata = isCloudMetadataAddress(flow.destIp);
  if (metadata && flow.destPort > 0) return { action: 'deny', reason: 'l4_denied', phase: 'destination', basis: 'cloud-metadata' };
  if (metadata && classification.kind === 'unknown') return { action: 'deny', reason: classification.reason, phase: 'unknown', basis: 'cloud-metadata' };
  if (compiled === undefined) {
    return classification.kind === 'unknown'
      ? { action: 'pass-through', reason: classification.reason, phase: 'unknown', basis: 'no-policy' }
      : { action: 'use-adapter', reason: 'allowed', phase: 'final', basis: 'no-policy' };
  }
  const mode = modeOf(compiled.mode);
  const known = classification.kind === 'known';
  const host = known && classification.host !== undefined ? normalizeHost(classification.host) : '';

  const destIp = flow.destIp;
  const { hasDest, v4 } = loadProbe(flow, host, known ? appProtocolBit(classification.appProtocol) : 0);

  // ctld only runs the destination phase with a destination address and a port.
  let rule = -1;
  let basis: DecisionBasis = mode === 'allow-all' ? 'allow-all-default' : mode === 'block-all' ? 'block-all-default' : 'unsupported-mode';
  if (hasDest && flow.destPort > 0) {
    const outcome = destinationPhase(compiled, mode, platform, ctx, destIp, v4 >= 0);
    rule = outcome.rule;
    basis = outcome.basis;
    if (!outcome.allow) return decide('deny', 'l4_denied', 'destination', basis, compiled, rule);
  }

  if (classification.kind === 'unknown') {
    // §3.5 step 2: the platform checks again, then the mode decides, whatever a rule allowed.
    const reason = classification.reason;
    if (hasDest && isOtherSandbox(ctx, destIp, v4 >= 0)) return decide('deny', reason, 'unknown', 'other-sandbox', compiled, -1);
    if (hasDest && destIn(platform.deniedCidrs)) return decide('deny', reason, 'unknown', 'platform-denied-cidr', compiled, -1);
    if (hasDest && destIn(platform.allowedCidrs)) return decide('pass-through', reason, 'unknown', 'platform-allowed-cidr', compiled, rule);
    if (mode === 'block-all') return decide('deny', reason, 'unknown', 'block-all-default', compiled, rule);
    return decide('pass-through', reason, 'unknown', mode === 'allow-all' ? 'allow-all-default' : 'unsupported-mode', compiled, rule);
  }

  // §3.3 domain phase: only with a host and when any domain rule exists (platform or policy).
  const domainRulesExist = compiled.hasRuleDomains || platform.allowedDomains.size > 0 || platform.deniedDomains.size > 0;
  if (host !== '' && domainRulesExist) {
    if (platform.deniedDomains.matches(host)) return decide('deny', 'l7_denied', 'domain', 'platform-denied-domain', compiled, rule);
    if (compiled.trafficRules.length === 0 && mode !== 'allow-all' && !platform.allowedDomains.matches(host)) {
      // No rules: allow-all allows; block-all (and an unsupported mode) allows platform domains only.
      return decide('deny', 'l7_denied', 'domain', mode === 'block-all' ? 'block-all-default' : 'unsupported-mode', compiled, rule);
    }
  }

  // §3.4 host verification, after L4 and L7 passed.
  if (ctx.verifyHost !== undefined && domainRulesExist && host !== '' && hasDest && classification.hostSource !== 'dns-cache') {
    const flag = verifyHost(ctx, host);
    if (flag !== undefined) {
      return mode === 'block-all'
        ? decide('deny', flag, 'verification', 'host-verification', compiled, rule)
        : decide('pass-through', flag, 'verification', 'host-verification', compiled, rule);
    }
  }

  return decide('use-adapter', 'allowed', 'final', basis, compiled, rule);
}
