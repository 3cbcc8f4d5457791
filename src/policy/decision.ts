/**
 * What the evaluator decides for one flow, in the platform's vocabulary (`deny` / `pass-through` /
 * `use-adapter` and its reason codes), plus where and why it was decided, for audits and the CLI.
 */
import type { UnknownReason } from './types.js';

/** The step of reference §3 that produced the decision. */
export type DecisionPhase = 'destination' | 'unknown' | 'domain' | 'verification' | 'final';

export type VerificationReason = 'host_resolution_failed' | 'host_dest_mismatch';

/** The rule or default behind the decision (see describeDecision for each in words). */
export type DecisionBasis =
  | 'no-policy'
  | 'cloud-metadata'
  | 'other-sandbox'
  | 'platform-denied-cidr'
  | 'platform-allowed-cidr'
  | 'traffic-rule'
  | 'allow-all-default'
  | 'block-all-default'
  | 'unsupported-mode'
  | 'platform-domain-allowlist'
  | 'platform-denied-domain'
  | 'host-verification';

interface DecisionCommon {
  readonly phase: DecisionPhase;
  readonly basis: DecisionBasis;
  /** Name of the traffic rule that matched in the destination phase (`''` for an unnamed rule). */
  readonly matchedRule?: string;
  readonly matchedRuleIndex?: number;
}

export type DenyDecision = DecisionCommon & {
  readonly action: 'deny';
  readonly reason: 'l4_denied' | 'l7_denied' | UnknownReason | VerificationReason;
};
/** Forwarded without an adapter: no credential injection, no protocol rules. */
export type PassThroughDecision = DecisionCommon & {
  readonly action: 'pass-through';
  readonly reason: UnknownReason | VerificationReason;
};
export type UseAdapterDecision = DecisionCommon & { readonly action: 'use-adapter'; readonly reason: 'allowed' };

export type Decision = DenyDecision | PassThroughDecision | UseAdapterDecision;

function ruleLabel(decision: Decision): string {
  if (decision.matchedRule === undefined) return 'a traffic rule';
  const at = decision.matchedRuleIndex === undefined ? '' : ` (trafficRules[${decision.matchedRuleIndex}])`;
  return decision.matchedRule === '' ? `an unnamed traffic rule${at}` : `traffic rule "${decision.matchedRule}"${at}`;
}

const unknownWords: Record<UnknownReason, string> = {
  missing_host: 'HTTP without a Host',
  missing_sni: 'TLS (or QUIC) without SNI',
  client_idle: 'the client sent nothing in time',
  classification_timeout: 'classification timed out',
  read_failed: 'reading the first bytes failed',
  header_limit_exceeded: 'the header limit was exceeded',
  unclassified: 'no classifier recognised the protocol',
  missing_original_dst: 'the original destination is unknown',
};

function why(decision: Decision): string {
  const rule = ruleLabel(decision);
  const after = decision.matchedRule === undefined ? '' : `; the destination had matched ${rule}`;
  switch (decision.basis) {
    case 'no-policy':
      return 'the sandbox has no compiled network policy, so nothing is restricted';
    case 'cloud-metadata':
      return 'the destination is a cloud metadata address (169.254.0.0/16, 100.100.100.200, fd00:ec2::254), denied before any rule in every mode';
    case 'other-sandbox':
      return 'the destination is another sandbox; sandbox-to-sandbox traffic is always denied';
    case 'platform-denied-cidr':
      return 'the destination is in a platform denied CIDR';
    case 'platform-allowed-cidr':
      return 'the destination is in a platform allowed CIDR';
    case 'traffic-rule':
      return decision.action === 'deny' && decision.reason === 'l4_denied' ? `${rule} matched and denies` : `${rule} matched and allows`;
    case 'allow-all-default':
      return `mode allow-all: nothing denied it${after}`;
    case 'block-all-default':
      if (decision.phase === 'domain') return 'mode block-all without traffic rules: the host is not a platform allowed domain';
      if (decision.phase === 'unknown') return `mode block-all denies unclassified traffic, whatever the rules allow${after}`;
      return 'mode block-all: no traffic rule allows it';
    case 'unsupported-mode':
      return `the policy mode is not allow-all or block-all, so its default denies${after}`;
    case 'platform-domain-allowlist':
      return 'mode block-all without traffic rules: a host and platform allowed domains let it through to the domain phase';
    case 'platform-denied-domain':
      return 'the host is a platform denied domain';
    case 'host-verification':
      return decision.reason === 'host_resolution_failed'
        ? 'the host could not be resolved to check it against the destination'
        : 'the host does not resolve to the destination address (possible spoofing)';
  }
}

/** One line for humans, e.g. `deny (l4_denied) at destination: traffic rule "x" (trafficRules[0]) matched and denies`. */
export function describeDecision(decision: Decision): string {
  let text = `${decision.action} (${decision.reason}) at ${decision.phase}: ${why(decision)}`;
  if (decision.phase === 'unknown') {
    const reason = decision.reason as UnknownReason;
    text += ` [unclassified traffic: ${unknownWords[reason] ?? reason}]`;
  }
  if (decision.phase === 'verification' && decision.action === 'pass-through') text += ' [passed through without adapter: no credential injection]';
  return text;
}
