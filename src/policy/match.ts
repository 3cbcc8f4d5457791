/**
 * Matching primitives with the platform's semantics (reference §3.1, §3.2) and the indexed
 * first-match-wins traffic rule matcher. Pure and allocation-free on the hot path.
 */
import type ipaddr from 'ipaddr.js';
import { appProtocols, type AppProtocol } from './types.js';
import { cidrsContain, cidrsContainV4, type CompiledCidr } from './ip.js';
import { DomainIndex, type DomainPattern } from './domain-index.js';
import type { CompiledPortRange, CompiledTrafficRule, Transport } from './compiled-rule.js';

const UPPER_OR_SPACE = /[A-Z\s]|[^\x00-\x7f]/;

/** Hosts are compared trimmed and lowercased (ctld does the same before every domain match). */
export function normalizeHost(host: string): string {
  // Classifiers already lowercase; skip the string copies in the common case.
  return UPPER_OR_SPACE.test(host) ? host.trim().toLowerCase() : host;
}

/** One domain pattern against a normalized host, exactly as ctld's matchDomain (the reference semantics). */
export function matchDomainPattern(host: string, rule: DomainPattern): boolean {
  if (host === rule.pattern) return true;
  return rule.kind === 'suffix' && host.endsWith(`.${rule.pattern}`);
}

/** Any port range matching the port with the same transport. */
export function portsMatch(ranges: readonly CompiledPortRange[], port: number, transport: Transport): boolean {
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i]!;
    if (r.protocol === transport && port >= r.start && port <= r.end) return true;
  }
  return false;
}

const appBits = new Map<string, number>(appProtocols.map((p, i) => [p, 1 << i]));

/** A bit per application protocol, so an appProtocols group matches with one AND. 0 = none/unknown. */
export function appProtocolBit(protocol: AppProtocol | ''): number {
  return protocol === '' ? 0 : (appBits.get(protocol) ?? 0);
}

/** The destination facts a traffic rule is matched against, reused across calls (no allocation). */
export interface RuleProbe {
  /** IPv4 destination as uint32, or -1 when the destination is IPv6. */
  v4: number;
  v6: ipaddr.IPv6 | undefined;
  port: number;
  transport: Transport;
  /** Normalized host; `''` for hostless or unknown traffic (never matches a domain rule). */
  host: string;
  /** appProtocolBit of the classified protocol; 0 for unknown traffic. */
  appBit: number;
}

const NONE = 0x7fffffff;

/**
 * First-match-wins over the compiled traffic rules without scanning every domain rule: rules with a
 * domain group can only match when the domain index names them for this host, so the matcher merges
 * (in ascending rule order) the domain index's candidates with the rules that have no domain group,
 * and returns the lowest index whose other groups also match.
 */
export class TrafficRuleIndex {
  readonly size: number;
  private readonly rules: readonly CompiledTrafficRule[];
  private readonly appMasks: Int32Array;
  private readonly plainRules: Int32Array;
  private readonly domains: DomainIndex;
  private readonly lists: Int32Array[] = [];
  private readonly heads: number[] = [];

  constructor(rules: readonly CompiledTrafficRule[]) {
    this.rules = rules;
    this.size = rules.length;
    this.appMasks = Int32Array.from(rules, (r) => r.appProtocols.reduce((m, p) => m | appProtocolBit(p), 0));
    this.plainRules = Int32Array.from(rules.filter((r) => r.domains.length === 0).map((r) => r.index));
    this.domains = new DomainIndex(rules.flatMap((r) => r.domains.map((pattern) => ({ pattern, owner: r.index }))));
  }

  /** Index of the first matching rule, or -1. */
  firstMatch(probe: RuleProbe): number {
    const lists = this.lists;
    const heads = this.heads;
    const nLists = probe.host === '' ? 0 : this.domains.collect(probe.host, lists);
    for (let i = 0; i < nLists; i++) heads[i] = 0;
    const plain = this.plainRules;
    let p = 0;
    let lastCandidate = -1;
    for (;;) {
      let candidate = NONE;
      for (let i = 0; i < nLists; i++) {
        const list = lists[i]!;
        let h = heads[i]!;
        while (h < list.length && list[h]! <= lastCandidate) h++;
        heads[i] = h;
        if (h < list.length && list[h]! < candidate) candidate = list[h]!;
      }
      const nextPlain = p < plain.length ? plain[p]! : NONE;
      if (candidate === NONE && nextPlain === NONE) return -1;
      if (nextPlain < candidate) {
        p++;
        if (this.matchesOtherGroups(nextPlain, probe)) return nextPlain;
      } else {
        lastCandidate = candidate;
        if (this.matchesOtherGroups(candidate, probe)) return candidate;
      }
    }
  }

  /** Every non-empty group except domains (already matched, or absent) matches. */
  private matchesOtherGroups(index: number, probe: RuleProbe): boolean {
    const rule = this.rules[index]!;
    if (rule.cidrs.length > 0 && !cidrMatch(rule.cidrs, probe)) return false;
    if (rule.ports.length > 0 && !portsMatch(rule.ports, probe.port, probe.transport)) return false;
    const apps = this.appMasks[index]!;
    return apps === 0 || (apps & probe.appBit) !== 0;
  }
}

function cidrMatch(cidrs: readonly CompiledCidr[], probe: RuleProbe): boolean {
  if (probe.v4 >= 0) return cidrsContainV4(cidrs, probe.v4);
  return probe.v6 !== undefined && cidrsContain(cidrs, { family: 6, v6: probe.v6 });
}
