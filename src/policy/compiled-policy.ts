/**
 * The compiled form of a SandboxNetworkPolicy: what the evaluator and the gateway run, as ctld's
 * CompiledPolicy. Produced by compilePolicy (compile.ts); never built by hand outside tests.
 */
import type { NetworkMode } from './types.js';
import type { CompiledTrafficRule } from './compiled-rule.js';
import type { TrafficRuleIndex } from './match.js';

export type { CompiledPortRange, CompiledTrafficRule, TrafficRuleAction, Transport } from './compiled-rule.js';

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
