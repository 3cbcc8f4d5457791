import { goParseCidrOk } from '../go/cidr.js';
import { goQuote, goTimeQuote } from '../go/quote.js';
import { goToLower, goToUpper, goTrimSpace } from '../go/strings.js';
import { appProtocols, type HttpMatch, type PortSpec, type ProjectionSpec, type ProtocolRule, type SandboxNetworkPolicy } from './types.js';

/**
 * The manager's network policy validation (upstream manager/pkg/apis/sandbox0/v1alpha1/
 * network_policy_validation.go), run on the merged policy and bindings. The first error wins;
 * messages are upstream's byte for byte (`%q` is Go's strconv.Quote). Comparisons are exact where
 * upstream's are (enum values, refs, names); trimmed or case-folded only where upstream trims or folds.
 * Returns the message, or undefined when the policy is valid.
 */
export function validateNetworkPolicy(policy: SandboxNetworkPolicy): string | undefined {
  return validateTrafficPolicy(policy) ?? validateCredentialPolicy(policy);
}

const q = goQuote;
const nonEmpty = <T>(list: readonly T[] | undefined): list is readonly T[] => list !== undefined && list.length > 0;
const blank = (s: string | undefined) => goTrimSpace(s ?? '') === '';

/** Upstream validates app protocols against the same list the classifier produces. */
const trafficAppProtocols: ReadonlySet<string> = new Set(appProtocols);
/** net/http's method constants (validHTTPMethod). */
const httpMethods: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE']);
const placeholderLocations: ReadonlySet<string> = new Set(['header', 'query', 'body']);
const TERMINATE_REORIGINATE = 'terminate-reoriginate';

/** ValidateSandboxNetworkTrafficPolicy: traffic rules and protocol rules. Legacy lists are not validated (upstream). */
export function validateTrafficPolicy(policy: SandboxNetworkPolicy): string | undefined {
  const egress = policy.egress;
  if (!egress) return undefined;
  const rules = egress.trafficRules ?? [];
  const legacy = [egress.allowedCidrs, egress.allowedDomains, egress.deniedCidrs, egress.deniedDomains, egress.allowedPorts, egress.deniedPorts];
  if (rules.length > 0 && legacy.some((list) => list !== undefined && list.length > 0)) {
    return 'egress trafficRules cannot be combined with legacy allowed*/denied* fields';
  }
  const seen = new Set<string>();
  for (const rule of rules) {
    const name = rule.name ?? '';
    const action = rule.action ?? '';
    if (action !== 'allow' && action !== 'deny') return `egress traffic rule ${q(name)} has unsupported action ${q(action)}`;
    if (!nonEmpty(rule.cidrs) && !nonEmpty(rule.domains) && !nonEmpty(rule.ports) && !nonEmpty(rule.appProtocols)) {
      return `egress traffic rule ${q(name)} must define at least one matcher`;
    }
    const detail = trafficRuleError(rule.cidrs, rule.domains, rule.ports, rule.appProtocols);
    if (detail) return `egress traffic rule ${q(name)} is invalid: ${detail}`;
    if (name === '') continue;
    if (seen.has(name)) return `duplicate egress traffic rule name ${q(name)}`;
    seen.add(name);
  }
  const protocolNames = new Set<string>();
  for (const rule of egress.protocolRules ?? []) {
    const name = rule.name ?? '';
    const detail = protocolRuleError(rule);
    if (detail) return `egress protocol rule ${q(name)} is invalid: ${detail}`;
    if (name === '') continue;
    if (protocolNames.has(name)) return `duplicate egress protocol rule name ${q(name)}`;
    protocolNames.add(name);
  }
  return undefined;
}

function trafficRuleError(
  cidrs: readonly string[] | undefined,
  domains: readonly string[] | undefined,
  ports: readonly PortSpec[] | undefined,
  protocols: readonly string[] | undefined,
): string | undefined {
  for (const cidr of cidrs ?? []) {
    const value = goTrimSpace(cidr);
    if (value === '') continue;
    if (!goParseCidrOk(value)) return `invalid CIDR ${q(cidr)}`;
  }
  const domainError = domainsError(domains);
  if (domainError) return domainError;
  const portError = portsError(ports, ['tcp', 'udp']);
  if (portError) return portError;
  for (const p of protocols ?? []) {
    if (!trafficAppProtocols.has(goToLower(goTrimSpace(p)))) return `unsupported app protocol ${q(p)}`;
  }
  return undefined;
}

function domainsError(domains: readonly string[] | undefined): string | undefined {
  for (const d of domains ?? []) {
    if (goToLower(goTrimSpace(d)) === '*.') return `invalid wildcard domain ${q(d)}`;
  }
  return undefined;
}

/** `endPort` is a Go *int32: present (even 0) means checked. */
function portsError(ports: readonly PortSpec[] | undefined, protocols: readonly string[]): string | undefined {
  for (const p of ports ?? []) {
    const port = p.port ?? 0;
    if (port <= 0 || port > 65535) return `invalid port ${port}`;
    if (p.endPort !== undefined && (p.endPort < port || p.endPort > 65535)) return `invalid end port ${p.endPort}`;
    const proto = goToLower(goTrimSpace(p.protocol ?? ''));
    if (proto !== '' && !protocols.includes(proto)) return `unsupported protocol ${q(p.protocol ?? '')}`;
  }
  return undefined;
}

function protocolRuleError(rule: ProtocolRule): string | undefined {
  const protocol = rule.protocol ?? '';
  if (protocol === 'http') {
    if (!rule.http) return 'http config is required';
    if (rule.mcp) return 'mcp config is not supported for http protocol rules';
  } else if (protocol === 'mcp') {
    if (!rule.mcp) return 'mcp config is required';
    if (rule.http) return 'http config is not supported for mcp protocol rules';
  } else {
    return `unsupported protocol ${q(protocol)}`;
  }
  const tlsMode = rule.tlsMode ?? '';
  if (tlsMode !== '' && tlsMode !== TERMINATE_REORIGINATE) return `unsupported tlsMode ${q(tlsMode)}`;
  const domainError = domainsError(rule.domains);
  if (domainError) return domainError;
  const portError = portsError(rule.ports, ['tcp']);
  if (portError) return portError;
  if (rule.httpMatch) {
    const err = httpMatchFieldsError(`egress protocol rule ${rule.name ?? ''}`, rule.httpMatch);
    if (err) return err;
  }
  if (rule.http) {
    const methods = rule.http.methods;
    if (methods) {
      const err = methodListError('allowed', methods.allowed) ?? methodListError('denied', methods.denied);
      if (err) return err;
    }
    const paths = rule.http.paths;
    if (paths) {
      const err =
        pathListError('http paths allowed', paths.allowed) ??
        pathListError('http paths denied', paths.denied) ??
        pathListError('http path prefixes allowed', paths.allowedPrefixes) ??
        pathListError('http path prefixes denied', paths.deniedPrefixes);
      if (err) return err;
    }
  }
  const tools = rule.mcp?.tools;
  if (tools) {
    const err = toolListError('allowed', tools.allowed) ?? toolListError('denied', tools.denied);
    if (err) return err;
  }
  return undefined;
}

/** validateHTTPMatchFields: methods are trimmed and uppercased before the checks (and in the message). */
function httpMatchFieldsError(label: string, match: HttpMatch): string | undefined {
  for (const raw of match.methods ?? []) {
    const method = goToUpper(goTrimSpace(raw));
    if (method === '') return `${label} httpMatch method is required`;
    if (!httpMethods.has(method)) return `${label} httpMatch method ${q(method)} is invalid`;
  }
  for (const path of match.paths ?? []) {
    if (blank(path) || !path.startsWith('/')) return `${label} httpMatch path ${q(path)} must start with /`;
  }
  for (const prefix of match.pathPrefixes ?? []) {
    if (blank(prefix) || !prefix.startsWith('/')) return `${label} httpMatch pathPrefix ${q(prefix)} must start with /`;
  }
  for (const m of match.headers ?? []) if (blank(m.name)) return `${label} httpMatch header name is required`;
  for (const m of match.query ?? []) if (blank(m.name)) return `${label} httpMatch query name is required`;
  return undefined;
}

function methodListError(which: 'allowed' | 'denied', list: readonly string[] | undefined): string | undefined {
  const seen = new Set<string>();
  for (const raw of list ?? []) {
    const method = goToUpper(goTrimSpace(raw));
    if (method === '') return `http methods ${which} method is required`;
    if (!httpMethods.has(method)) return `http methods ${which} method ${q(method)} is invalid`;
    if (seen.has(method)) return `duplicate http ${which} method ${q(method)}`;
    seen.add(method);
  }
  return undefined;
}

function pathListError(label: string, list: readonly string[] | undefined): string | undefined {
  const seen = new Set<string>();
  for (const raw of list ?? []) {
    const path = goTrimSpace(raw);
    if (path === '' || !path.startsWith('/')) return `${label} path ${q(path)} must start with /`;
    if (seen.has(path)) return `duplicate ${label} path ${q(path)}`;
    seen.add(path);
  }
  return undefined;
}

function toolListError(which: 'allowed' | 'denied', list: readonly string[] | undefined): string | undefined {
  const seen = new Set<string>();
  for (const raw of list ?? []) {
    const name = goTrimSpace(raw);
    if (name === '') return `mcp tools ${which} name is required`;
    if (seen.has(name)) return `duplicate mcp ${which} tool ${q(name)}`;
    seen.add(name);
  }
  return undefined;
}

/**
 * ValidateSandboxNetworkCredentialPolicy: bindings, then the proxy, then credentialRules. Refs are
 * compared exactly (upstream does not trim them); only sourceRef, the proxy address and the ttl are trimmed.
 */
export function validateCredentialPolicy(policy: SandboxNetworkPolicy): string | undefined {
  const projectionByRef = new Map<string, string>();
  for (const b of policy.credentialBindings ?? []) {
    const ref = b.ref ?? '';
    if (ref === '') return 'credential binding ref is required';
    if (blank(b.sourceRef)) return `credential binding sourceRef is required for ${q(ref)}`;
    const projectionErr = projectionError(ref, b.projection ?? { type: '' });
    if (projectionErr) return projectionErr;
    const ttl = goTrimSpace(b.cachePolicy?.ttl ?? '');
    if (b.cachePolicy && ttl !== '') {
      const parsed = parseGoDuration(ttl);
      if (!parsed.ok) return `credential binding cachePolicy ttl is invalid for ${q(ref)}: ${parsed.error}`;
    }
    if (projectionByRef.has(ref)) return `duplicate credential binding ref ${q(ref)}`;
    projectionByRef.set(ref, b.projection?.type ?? '');
  }
  const egress = policy.egress;
  if (!egress) return undefined;

  const proxy = egress.proxy;
  if (proxy) {
    if (proxy.type !== 'socks5') return `egress proxy type ${q(proxy.type ?? '')} is not supported`;
    if (blank(proxy.address)) return 'egress proxy address is required';
    const ref = proxy.credentialRef ?? '';
    if (ref !== '') {
      const projection = projectionByRef.get(ref);
      if (projection === undefined) return `egress proxy credentialRef ${q(ref)} not found`;
      if (projection !== 'username_password') return `egress proxy credentialRef ${q(ref)} requires username_password projection`;
    }
  }

  const names = new Set<string>();
  for (const rule of egress.credentialRules ?? []) {
    const ref = rule.credentialRef ?? '';
    const name = rule.name ?? '';
    const protocol = rule.protocol ?? '';
    const tlsMode = rule.tlsMode ?? '';
    if (ref === '') return 'egress rule credentialRef is required';
    const projection = projectionByRef.get(ref);
    if (projection === undefined) return `egress rule credentialRef ${q(ref)} not found`;
    if (protocol === 'tls') {
      if (tlsMode !== TERMINATE_REORIGINATE) return `egress rule ${q(name)} with protocol tls requires tlsMode terminate-reoriginate`;
      if (projection !== 'tls_client_certificate') return `egress rule ${q(name)} with protocol tls requires tls_client_certificate projection on ${q(ref)}`;
    }
    if ((protocol === 'socks5' || protocol === 'mqtt' || protocol === 'redis') && projection !== 'username_password') {
      return `egress rule ${q(name)} with protocol ${protocol} requires username_password projection on ${q(ref)}`;
    }
    if (protocol === 'ssh' && projection !== 'ssh_proxy') return `egress rule ${q(name)} with protocol ssh requires ssh_proxy projection on ${q(ref)}`;
    const httpFamily = protocol === 'http' || protocol === 'https' || protocol === 'grpc';
    const tlsCarried = protocol === 'https' || protocol === 'grpc';
    if (projection === 'placeholder_substitution') {
      if (!httpFamily) return `egress rule ${q(name)} with placeholder_substitution projection requires protocol http, https, or grpc`;
      if (tlsCarried && tlsMode !== TERMINATE_REORIGINATE) {
        return `egress rule ${q(name)} with placeholder_substitution projection and protocol ${protocol} requires tlsMode terminate-reoriginate`;
      }
    }
    if (rule.httpMatch) {
      if (!httpFamily) return `egress rule ${q(name)} httpMatch requires protocol http, https, or grpc`;
      if (tlsCarried && tlsMode !== TERMINATE_REORIGINATE) return `egress rule ${q(name)} httpMatch with protocol ${protocol} requires tlsMode terminate-reoriginate`;
      const err = httpMatchFieldsError(`egress rule ${name}`, rule.httpMatch);
      if (err) return err;
    }
    if (name === '') continue;
    if (names.has(name)) return `duplicate egress rule name ${q(name)}`;
    names.add(name);
  }
  return undefined;
}

/** validateProjection: the projection's own object must be present; its contents are checked where upstream checks them. */
function projectionError(ref: string, p: ProjectionSpec): string | undefined {
  const r = q(ref);
  switch (p.type) {
    case 'http_headers':
      if (!p.httpHeaders) return `credential binding projection.httpHeaders is required for ${r}`;
      for (const h of p.httpHeaders.headers ?? []) {
        if (blank(h.name)) return `credential binding projected header name is required for ${r}`;
        if (blank(h.valueTemplate)) return `credential binding projected header valueTemplate is required for ${r}`;
      }
      return undefined;
    case 'placeholder_substitution': {
      if (!p.placeholderSubstitution) return `credential binding projection.placeholderSubstitution is required for ${r}`;
      const replacements = p.placeholderSubstitution.replacements ?? [];
      if (replacements.length === 0) return `credential binding projection.placeholderSubstitution replacements are required for ${r}`;
      // Duplicates are per placeholder and location, across all replacements of the binding.
      const seen = new Set<string>();
      for (const rep of replacements) {
        if (blank(rep.placeholder)) return `credential binding placeholder is required for ${r}`;
        if (blank(rep.valueTemplate)) return `credential binding placeholder valueTemplate is required for ${r}`;
        if (!nonEmpty(rep.locations)) return `credential binding placeholder locations are required for ${r}`;
        for (const loc of rep.locations) {
          if (!placeholderLocations.has(loc)) return `credential binding placeholder location ${q(loc)} is not supported for ${r}`;
          const key = `${rep.placeholder}\u0000${loc}`;
          if (seen.has(key)) return `credential binding placeholder ${q(rep.placeholder)} has duplicate location ${q(loc)} for ${r}`;
          seen.add(key);
        }
      }
      return undefined;
    }
    case 'tls_client_certificate':
      return p.tlsClientCertificate ? undefined : `credential binding projection.tlsClientCertificate is required for ${r}`;
    case 'username_password':
      return p.usernamePassword ? undefined : `credential binding projection.usernamePassword is required for ${r}`;
    case 'ssh_proxy': {
      const ssh = p.sshProxy;
      if (!ssh) return `credential binding projection.sshProxy is required for ${r}`;
      if (blank(ssh.upstreamUsername)) return `credential binding projection.sshProxy upstreamUsername is required for ${r}`;
      if (!nonEmpty(ssh.sandboxPublicKeys)) return `credential binding projection.sshProxy sandboxPublicKeys is required for ${r}`;
      for (const key of ssh.sandboxPublicKeys) if (blank(key)) return `credential binding projection.sshProxy sandbox public key is required for ${r}`;
      return undefined;
    }
    default:
      return `credential binding projection type ${q(p.type ?? '')} is not supported for ${r}`;
  }
}

const durationUnits: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** The largest time.Duration, in milliseconds (int64 nanoseconds). */
const MAX_DURATION_MS = 9_223_372_036_854.775807;

/** Go's time.ParseDuration, in milliseconds, with Go's error text (its own quoting, time.quote). */
export function parseGoDuration(input: string): { ok: true; ms: number } | { ok: false; error: string } {
  const quoted = goTimeQuote(input);
  const invalid = { ok: false as const, error: `time: invalid duration ${quoted}` };
  let s = input;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return { ok: true, ms: 0 };
  if (s === '') return invalid;
  let total = 0;
  const re = /^(\d*\.?\d*)([^.0-9]*)/;
  while (s.length > 0) {
    const m = re.exec(s);
    if (!m || m[1] === '' || m[1] === '.') return invalid;
    const unit = m[2] ?? '';
    if (unit === '') return { ok: false, error: `time: missing unit in duration ${quoted}` };
    const factor = durationUnits[unit];
    if (factor === undefined) return { ok: false, error: `time: unknown unit ${goTimeQuote(unit)} in duration ${quoted}` };
    total += Number(m[1]) * factor;
    if (total > MAX_DURATION_MS) return invalid;
    s = s.slice(m[0].length);
  }
  return { ok: true, ms: sign * total };
}
