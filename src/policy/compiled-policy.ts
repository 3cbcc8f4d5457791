/**
 * The compiled form of a SandboxNetworkPolicy: what the evaluator and the gateway run, as ctld's
 * CompiledPolicy. Produced by compilePolicy (compile.ts); never built by hand outside tests.
 */
import type { AppProtocol, NetworkMode } from './types.js';
import type { CompiledCidr } from './ip.js';
import type { DomainPattern } from './domain-index.js';
import type { TrafficRuleIndex } from './match.js';

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

export interface CompiledProxy {
  readonly type: 'socks5';
  /** `host:port` normalized (lowercased host, decimal port, brackets for IPv6), as ctld's Address. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** The binding ref for RFC 1929 credentials; absent when the proxy needs no auth. */
  readonly credentialRef?: string;
}

export interface CompiledPolicy {
  /** `''` compiles to `allow-all`. Another value only survives compilation when egress is absent or
   * has trafficRules; the evaluator then treats it like ctld does (deny where a mode default applies). */
  readonly mode: NetworkMode | (string & {});
  readonly trafficRules: readonly CompiledTrafficRule[];
  readonly proxy?: CompiledProxy;
  /** Any compiled traffic rule (legacy ones included) has a domain matcher. */
  readonly hasRuleDomains: boolean;
  /** The indexed first-match matcher over `trafficRules`. */
  readonly ruleIndex: TrafficRuleIndex;
}
