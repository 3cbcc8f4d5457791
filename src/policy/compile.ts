/**
 * SandboxNetworkPolicy → CompiledPolicy, with ctld's compile-time checks and messages
 * (reference §2D, §3.1). A failed compile is not an API error upstream: ctld keeps the previous
 * compiled policy, or runs the sandbox with no policy at all (see evaluate.ts for what that means).
 */
import { appProtocols, type AppProtocol, type PortSpec, type SandboxNetworkPolicy, type TrafficRule } from './types.js';
import type { CompiledPolicy, CompiledPortRange, CompiledProxy, CompiledTrafficRule, TrafficRuleAction } from './compiled-policy.js';
import type { DomainPattern } from './domain-index.js';
import { parseCidr, type CompiledCidr } from './ip.js';
import { joinHostPort, splitHostPort } from '../go/net.js';
import { goQuote } from '../go/quote.js';
import { goAtoi } from '../go/strconv.js';
import { goToLower, goTrimSpace } from '../go/strings.js';
import { TrafficRuleIndex } from './match.js';

export type CompileErrorCode =
  | 'traffic_rules_with_legacy_fields'
  | 'invalid_traffic_rule'
  | 'invalid_legacy_rule'
  | 'unsupported_mode'
  | 'invalid_protocol_rule'
  | 'invalid_credential_rule'
  | 'invalid_proxy'
  | 'invalid_platform_settings';

export interface CompileError {
  readonly code: CompileErrorCode;
  /** ctld's error text, wrapping included (e.g. `compile egress proxy: host is required`). */
  readonly message: string;
}

export type CompileResult = { ok: true; policy: CompiledPolicy } | { ok: false; error: CompileError };

/** Internal: a failed step, carried up and wrapped like Go's `fmt.Errorf("...: %w", err)`. */
export class CompileFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CompileFailure';
  }
}

const fail = (message: string): never => {
  throw new CompileFailure(message);
};

function wrap<T>(prefix: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof CompileFailure) throw new CompileFailure(`${prefix}: ${error.message}`);
    throw error;
  }
}

function attempt<T>(code: CompileErrorCode, prefix: string, fn: () => T): { ok: true; value: T } | { ok: false; error: CompileError } {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    if (error instanceof CompileFailure) return { ok: false, error: { code, message: `${prefix}: ${error.message}` } };
    throw error;
  }
}

const goDecimal = (n: number): string => (Number.isInteger(n) ? String(n) : String(Math.trunc(n)));

export function parseCidrList(values: readonly string[] | undefined): CompiledCidr[] {
  const out: CompiledCidr[] = [];
  for (const raw of values ?? []) {
    const value = goTrimSpace(raw);
    if (value === '') continue;
    const cidr = parseCidr(value);
    if (cidr === undefined) fail(`invalid CIDR ${goQuote(value)}`);
    else out.push(cidr);
  }
  return out;
}

export function parsePortList(values: readonly PortSpec[] | undefined): CompiledPortRange[] {
  const out: CompiledPortRange[] = [];
  for (const spec of values ?? []) {
    const port = spec.port;
    if (!Number.isInteger(port) || port <= 0 || port > 65535) fail(`invalid port ${goDecimal(port)}`);
    let end = port;
    if (spec.endPort !== undefined && spec.endPort !== null) {
      if (!Number.isInteger(spec.endPort) || spec.endPort < port || spec.endPort > 65535) {
        fail(`invalid end port ${goDecimal(spec.endPort)}`);
      }
      end = spec.endPort;
    }
    const proto = goToLower(goTrimSpace(spec.protocol ?? '')) || 'tcp';
    if (proto !== 'tcp' && proto !== 'udp') fail(`unsupported protocol ${goQuote(spec.protocol ?? '')}`);
    out.push({ protocol: proto as 'tcp' | 'udp', start: port, end });
  }
  return out;
}

/** Trim + lowercase; `*.x` → suffix `x`; anything else exact; blanks dropped; trailing dots kept. */
export function parseDomainList(values: readonly string[] | undefined): DomainPattern[] {
  const out: DomainPattern[] = [];
  for (const raw of values ?? []) {
    const value = goToLower(goTrimSpace(raw));
    if (value === '') continue;
    if (value.startsWith('*.')) {
      const suffix = value.slice(2);
      if (suffix === '') fail(`invalid wildcard domain ${goQuote(value)}`);
      out.push({ pattern: suffix, kind: 'suffix' });
      continue;
    }
    out.push({ pattern: value, kind: 'exact' });
  }
  return out;
}

const knownAppProtocols: ReadonlySet<string> = new Set(appProtocols);

function compileTrafficRules(values: readonly TrafficRule[]): CompiledTrafficRule[] {
  return values.map((value, index) => {
    const name = value.name ?? '';
    const cidrs = wrap(`parse traffic rule cidrs for ${goQuote(name)}`, () => parseCidrList(value.cidrs));
    const ports = wrap(`parse traffic rule ports for ${goQuote(name)}`, () => parsePortList(value.ports));
    const domains = wrap(`parse traffic rule domains for ${goQuote(name)}`, () => parseDomainList(value.domains));
    const apps = (value.appProtocols ?? []).map((p) => goToLower(goTrimSpace(p))).filter((p) => p !== '');
    if (value.action !== 'allow' && value.action !== 'deny') {
      fail(`unsupported traffic rule action ${goQuote(value.action)}`);
    }
    if (cidrs.length === 0 && ports.length === 0 && domains.length === 0 && apps.length === 0) {
      fail(`traffic rule ${goQuote(name)} must define at least one matcher`);
    }
    for (const app of apps) {
      if (!knownAppProtocols.has(app)) fail(`traffic rule ${goQuote(name)} app protocols: unsupported protocol ${goQuote(app)}`);
    }
    return {
      index,
      name: goTrimSpace(name),
      action: value.action as TrafficRuleAction,
      cidrs,
      ports,
      domains,
      appProtocols: apps as AppProtocol[],
    };
  });
}

type LegacyRule = Omit<CompiledTrafficRule, 'index'>;

const legacyRule = (name: string, action: TrafficRuleAction, groups: Partial<LegacyRule>): LegacyRule => ({
  name,
  action,
  cidrs: groups.cidrs ?? [],
  ports: groups.ports ?? [],
  domains: groups.domains ?? [],
  appProtocols: [],
});

/**
 * allow-all: each non-empty denied* list becomes its own deny rule (OR). block-all: the allowed* lists
 * form one allow rule whose groups must all match (AND). Emptiness is judged on the raw lists, so a
 * list of blanks yields a rule with no matcher, which matches everything (as upstream).
 */
function compileLegacyRules(mode: string, egress: NonNullable<SandboxNetworkPolicy['egress']>): LegacyRule[] {
  const has = (list: readonly unknown[] | undefined): boolean => (list?.length ?? 0) > 0;
  if (mode === 'allow-all') {
    const rules: LegacyRule[] = [];
    if (has(egress.deniedCidrs)) rules.push(legacyRule('legacy-deny-cidrs', 'deny', { cidrs: parseCidrList(egress.deniedCidrs) }));
    if (has(egress.deniedPorts)) rules.push(legacyRule('legacy-deny-ports', 'deny', { ports: parsePortList(egress.deniedPorts) }));
    if (has(egress.deniedDomains)) {
      rules.push(legacyRule('legacy-deny-domains', 'deny', { domains: parseDomainList(egress.deniedDomains) }));
    }
    return rules;
  }
  if (mode === 'block-all') {
    if (!has(egress.allowedCidrs) && !has(egress.allowedPorts) && !has(egress.allowedDomains)) return [];
    const cidrs = parseCidrList(egress.allowedCidrs);
    const ports = parsePortList(egress.allowedPorts);
    const domains = parseDomainList(egress.allowedDomains);
    return [legacyRule('legacy-allow', 'allow', { cidrs, ports, domains })];
  }
  return fail(`unsupported network mode ${goQuote(mode)}`);
}

function hasLegacyLists(egress: NonNullable<SandboxNetworkPolicy['egress']>): boolean {
  return [egress.allowedCidrs, egress.allowedDomains, egress.deniedCidrs, egress.deniedDomains, egress.allowedPorts, egress.deniedPorts].some(
    (list) => (list?.length ?? 0) > 0,
  );
}

/** protocolRules are not enforced by the emulator, but a bad one fails the whole compile upstream. */
function checkProtocolRules(egress: NonNullable<SandboxNetworkPolicy['egress']>): void {
  for (const rule of egress.protocolRules ?? []) {
    const protocol = goToLower(goTrimSpace(rule.protocol));
    if (protocol !== 'http' && protocol !== 'mcp') fail(`unsupported protocol ${goQuote(rule.protocol)}`);
    const name = rule.name ?? '';
    wrap(`parse protocol rule domains for ${goQuote(name)}`, () => parseDomainList(rule.domains));
    wrap(`parse protocol rule ports for ${goQuote(name)}`, () => parsePortList(rule.ports));
    const tlsMode = rule.tlsMode ?? '';
    if (tlsMode !== '' && tlsMode !== 'terminate-reoriginate') fail(`unsupported protocol rule tls mode ${goQuote(tlsMode)}`);
    const hasHttp = rule.http !== undefined && rule.http !== null;
    const hasMcp = rule.mcp !== undefined && rule.mcp !== null;
    if (protocol === 'http') {
      if (!hasHttp) fail(`protocol rule ${goQuote(name)} requires http config`);
      if (hasMcp) fail(`protocol rule ${goQuote(name)} cannot include mcp config for http`);
    } else {
      if (!hasMcp) fail(`protocol rule ${goQuote(name)} requires mcp config`);
      if (hasHttp) fail(`protocol rule ${goQuote(name)} cannot include http config for mcp`);
    }
  }
}

const rollouts = new Set(['', 'enabled', 'disabled']);
const authProtocols = new Set(['', 'http', 'https', 'grpc', 'tls', 'ssh', 'socks5', 'mqtt', 'redis']);
const authTlsModes = new Set(['', 'passthrough', 'terminate-reoriginate']);
const failurePolicies = new Set(['', 'fail-closed', 'fail-open']);

/** credentialRules are not enforced either; same reason as checkProtocolRules. */
function checkCredentialRules(egress: NonNullable<SandboxNetworkPolicy['egress']>): void {
  for (const rule of egress.credentialRules ?? []) {
    const ref = goTrimSpace(rule.credentialRef ?? '');
    if (ref === '') fail('credentialRef is required');
    wrap(`parse auth rule domains for ${goQuote(ref)}`, () => parseDomainList(rule.domains));
    wrap(`parse auth rule ports for ${goQuote(ref)}`, () => parsePortList(rule.ports));
    const rollout = rule.rollout ?? '';
    const protocol = rule.protocol ?? '';
    const tlsMode = rule.tlsMode ?? '';
    const failurePolicy = rule.failurePolicy ?? '';
    if (!rollouts.has(rollout)) fail(`unsupported auth rule rollout ${goQuote(rollout)}`);
    if (!authProtocols.has(protocol)) fail(`unsupported auth rule protocol ${goQuote(protocol)}`);
    if (!authTlsModes.has(tlsMode)) fail(`unsupported auth rule tls mode ${goQuote(tlsMode)}`);
    if (!failurePolicies.has(failurePolicy)) fail(`unsupported auth rule failure policy ${goQuote(failurePolicy)}`);
    if (rule.httpMatch !== undefined && rule.httpMatch !== null) {
      const name = goQuote(rule.name ?? '');
      if (protocol === 'https' || protocol === 'grpc') {
        if (tlsMode !== 'terminate-reoriginate') fail(`auth rule ${name} httpMatch requires tlsMode terminate-reoriginate`);
      } else if (protocol !== 'http') {
        fail(`auth rule ${name} httpMatch requires protocol http, https, or grpc`);
      }
    }
  }
}

function compileProxy(proxy: NonNullable<NonNullable<SandboxNetworkPolicy['egress']>['proxy']>): CompiledProxy {
  const type = goToLower(goTrimSpace(proxy.type ?? ''));
  if (type !== 'socks5') fail(`unsupported type ${goQuote(proxy.type ?? '')}`);
  const split = splitHostPort(goTrimSpace(proxy.address ?? ''));
  if (!split.ok) return fail(`address must be in host:port form: ${split.message}`);
  const host = goTrimSpace(goToLower(split.host));
  if (host === '') fail('host is required');
  if (split.port === '') fail('port is required');
  const port = goAtoi(split.port);
  if (port === undefined) return fail(`invalid port ${goQuote(split.port)}`);
  if (port <= 0n || port > 65535n) fail(`port ${port} out of range`);
  const credentialRef = goTrimSpace(proxy.credentialRef ?? '');
  const portNumber = Number(port);
  return {
    type: 'socks5',
    address: joinHostPort(host, portNumber),
    host,
    port: portNumber,
    ...(credentialRef === '' ? {} : { credentialRef }),
  };
}

/** Compile a stored policy the way ctld does when it loads the sandbox's policy annotation. */
export function compilePolicy(policy: SandboxNetworkPolicy): CompileResult {
  const mode = policy.mode === '' || policy.mode === undefined ? 'allow-all' : policy.mode;
  const egress = policy.egress ?? undefined;
  let trafficRules: CompiledTrafficRule[] = [];
  let proxy: CompiledProxy | undefined;
  if (egress !== undefined && egress !== null) {
    const rawRules = egress.trafficRules ?? [];
    if (rawRules.length > 0 && hasLegacyLists(egress)) {
      return {
        ok: false,
        error: { code: 'traffic_rules_with_legacy_fields', message: 'trafficRules cannot be combined with legacy allowed*/denied* fields' },
      };
    }
    const rules = attempt('invalid_traffic_rule', 'compile egress traffic rules', () => compileTrafficRules(rawRules));
    if (!rules.ok) return rules;
    trafficRules = rules.value;
    if (trafficRules.length === 0) {
      const known = mode === 'allow-all' || mode === 'block-all';
      const legacy = attempt(known ? 'invalid_legacy_rule' : 'unsupported_mode', 'compile legacy egress rules', () =>
        compileLegacyRules(mode, egress),
      );
      if (!legacy.ok) return legacy;
      trafficRules = legacy.value.map((rule, index) => ({ ...rule, index }));
    }
    const protocolRules = attempt('invalid_protocol_rule', 'compile protocol rules', () => checkProtocolRules(egress));
    if (!protocolRules.ok) return protocolRules;
    const credentialRules = attempt('invalid_credential_rule', 'compile egress auth rules', () => checkCredentialRules(egress));
    if (!credentialRules.ok) return credentialRules;
    if (egress.proxy !== undefined && egress.proxy !== null) {
      const compiled = attempt('invalid_proxy', 'compile egress proxy', () => compileProxy(egress.proxy!));
      if (!compiled.ok) return compiled;
      proxy = compiled.value;
    }
  }
  const compiled: CompiledPolicy = {
    mode,
    trafficRules,
    ...(proxy === undefined ? {} : { proxy }),
    hasRuleDomains: trafficRules.some((rule) => rule.domains.length > 0),
    ruleIndex: new TrafficRuleIndex(trafficRules),
  };
  return { ok: true, policy: compiled };
}
