/**
 * Why a flow matched the traffic rule it matched: every rule the destination phase tried, in order,
 * with each of its groups (cidrs, ports, domains, appProtocols) matched or not. Pure, and computed on
 * demand (the web view's flow story, the evaluate form): the data path keeps the indexed matcher
 * (match.ts) and records only the matched rule's name. `firstMatch` equals that matcher's answer.
 */
import type { CompiledPolicy, CompiledTrafficRule } from './compiled-policy.js';
import type { FlowFacts } from './evaluate.js';
import { cidrsContain, formatIp, parseIp, type ParsedIp } from './ip.js';
import { matchDomainPattern, normalizeHost, portsMatch } from './match.js';
import type { CompiledPlatform } from './platform.js';

/** One group of a rule: `undefined` when the group is empty (it does not constrain). */
export interface RuleGroupsTrace {
  cidrs?: boolean;
  ports?: boolean;
  domains?: boolean;
  appProtocols?: boolean;
}

export interface RuleTrace {
  index: number;
  name: string;
  action: 'allow' | 'deny';
  /** The rule as written back: its groups in the policy's words. */
  cidrs: string[];
  ports: string[];
  domains: string[];
  appProtocols: string[];
  groups: RuleGroupsTrace;
  matched: boolean;
}

export interface PlatformCheckTrace {
  check: 'other-sandbox' | 'platform-denied-cidr' | 'platform-allowed-cidr';
  /** `true`: the check applied and decided the destination phase. */
  hit: boolean;
}

export interface RulesTrace {
  /** The destination phase runs only with a destination address and a port (ctld). */
  destinationPhase: boolean;
  platformChecks: PlatformCheckTrace[];
  /** Rules tried in order, up to and including the first match; empty when a platform check decided. */
  tried: RuleTrace[];
  /** Rules after the first match (not tried), for the full table. */
  notTried: RuleTrace[];
  /** Index of the first matching rule, or -1. */
  firstMatch: number;
  /** What the destination probe looked like: unknown traffic is matched with no host and no protocol. */
  probe: { host: string; appProtocol: string; transport: 'tcp' | 'udp'; port: number; ip: string };
}

export interface RuleTraceContext {
  otherSandboxIps: ReadonlySet<string>;
  sourceIp?: string;
}

function describeRule(rule: CompiledTrafficRule): Pick<RuleTrace, 'cidrs' | 'ports' | 'domains' | 'appProtocols'> {
  return {
    cidrs: rule.cidrs.map((c) => c.text),
    ports: rule.ports.map((p) => `${p.start === p.end ? p.start : `${p.start}-${p.end}`}/${p.protocol}`),
    domains: rule.domains.map((d) => (d.kind === 'suffix' ? `*.${d.pattern}` : d.pattern)),
    appProtocols: [...rule.appProtocols],
  };
}

function groupsOf(rule: CompiledTrafficRule, ip: ParsedIp | undefined, port: number, transport: 'tcp' | 'udp', host: string, appProtocol: string): RuleGroupsTrace {
  const groups: RuleGroupsTrace = {};
  if (rule.cidrs.length > 0) groups.cidrs = ip !== undefined && cidrsContain(rule.cidrs, ip);
  if (rule.ports.length > 0) groups.ports = portsMatch(rule.ports, port, transport);
  if (rule.domains.length > 0) groups.domains = host !== '' && rule.domains.some((d) => matchDomainPattern(host, d));
  if (rule.appProtocols.length > 0) groups.appProtocols = appProtocol !== '' && (rule.appProtocols as readonly string[]).includes(appProtocol);
  return groups;
}

const allMatch = (g: RuleGroupsTrace) => g.cidrs !== false && g.ports !== false && g.domains !== false && g.appProtocols !== false;

/** The destination phase of `evaluate` (reference §3.2), step by step. */
export function traceRules(compiled: CompiledPolicy, platform: CompiledPlatform, flow: FlowFacts, ctx: RuleTraceContext): RulesTrace {
  const known = flow.classification.kind === 'known';
  const host = flow.classification.kind === 'known' && flow.classification.host !== undefined ? normalizeHost(flow.classification.host) : '';
  const appProtocol = flow.classification.kind === 'known' ? flow.classification.appProtocol : '';
  const ip = parseIp(flow.destIp);
  const probe = { host, appProtocol: known ? appProtocol : '', transport: flow.transport, port: flow.destPort, ip: flow.destIp };
  const all = compiled.trafficRules.map((rule) => ({ rule, described: describeRule(rule) }));
  const untried = (from: number) =>
    all.slice(from).map(({ rule, described }) => ({ index: rule.index, name: rule.name, action: rule.action, ...described, groups: {}, matched: false }));

  const destinationPhase = ip !== undefined && flow.destPort > 0;
  if (!destinationPhase) return { destinationPhase, platformChecks: [], tried: [], notTried: untried(0), firstMatch: -1, probe };

  const text = formatIp(ip);
  const otherSandbox = ctx.otherSandboxIps.size > 0 && text !== ctx.sourceIp && ctx.otherSandboxIps.has(text);
  const platformChecks: PlatformCheckTrace[] = [{ check: 'other-sandbox', hit: otherSandbox }];
  if (!otherSandbox) {
    const denied = platform.deniedCidrs.length > 0 && cidrsContain(platform.deniedCidrs, ip);
    platformChecks.push({ check: 'platform-denied-cidr', hit: denied });
    if (!denied) platformChecks.push({ check: 'platform-allowed-cidr', hit: platform.allowedCidrs.length > 0 && cidrsContain(platform.allowedCidrs, ip) });
  }
  if (platformChecks.some((c) => c.hit)) return { destinationPhase, platformChecks, tried: [], notTried: untried(0), firstMatch: -1, probe };

  const tried: RuleTrace[] = [];
  for (const { rule, described } of all) {
    const groups = groupsOf(rule, ip, flow.destPort, flow.transport, host, known ? appProtocol : '');
    const matched = allMatch(groups);
    tried.push({ index: rule.index, name: rule.name, action: rule.action, ...described, groups, matched });
    if (matched) return { destinationPhase, platformChecks, tried, notTried: untried(rule.index + 1), firstMatch: rule.index, probe };
  }
  return { destinationPhase, platformChecks, tried, notTried: [], firstMatch: -1, probe };
}
