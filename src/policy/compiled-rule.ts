/**
 * One compiled traffic rule and its parts: what the indexed matcher (match.ts) runs over. A leaf, so the
 * matcher and the compiled policy that holds it import it without importing each other.
 */
import type { AppProtocol } from './types.js';
import type { CompiledCidr } from './ip.js';
import type { DomainPattern } from './domain-index.js';

export type Transport = 'tcp' | 'udp';

export interface CompiledPortRange {
  /** An empty protocol in the spec compiles to `tcp`, so such a range never matches UDP. */
  readonly protocol: Transport;
  readonly start: number;
  /** Equal to `start` when the spec has no endPort. */
  readonly end: number;
}

export type TrafficRuleAction = 'allow' | 'deny';

export interface CompiledTrafficRule {
  /** Position in the compiled rule list: first match wins, lowest index first. */
  readonly index: number;
  /** Trimmed name; `''` when the rule is unnamed. Legacy lists compile to `legacy-*` names. */
  readonly name: string;
  readonly action: TrafficRuleAction;
  /** Empty groups do not constrain; every non-empty group must match (AND), any entry within (OR). */
  readonly cidrs: readonly CompiledCidr[];
  readonly ports: readonly CompiledPortRange[];
  readonly domains: readonly DomainPattern[];
  readonly appProtocols: readonly AppProtocol[];
}
