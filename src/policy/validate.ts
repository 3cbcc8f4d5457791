import ipaddr from 'ipaddr.js';
import { appProtocols, type CredentialBinding, type PortSpec, type SandboxNetworkPolicy } from './types.js';

/**
 * The manager's network policy validation (upstream network_policy_validation.go), run on the merged
 * policy and bindings. The first error wins; messages are upstream's, byte for byte. Returns the
 * message, or undefined when the policy is valid.
 */
export function validateNetworkPolicy(policy: SandboxNetworkPolicy): string | undefined {
  return validateTrafficPolicy(policy) ?? validateCredentialPolicy(policy);
}

const supportedAppProtocols: ReadonlySet<string> = new Set(appProtocols);

const placeholderLocations = new Set(['header', 'query', 'body']);

const nonEmpty = <T>(list: readonly T[] | undefined): list is readonly T[] => list !== undefined && list.length > 0;
const blank = (s: string | undefined) => s === undefined || s.trim() === '';

/** Section A: traffic rules and protocol rules. Legacy lists are deliberately not validated (upstream). */
export function validateTrafficPolicy(policy: SandboxNetworkPolicy): string | undefined {
  const egress = policy.egress;
  if (!egress) return undefined;
  const rules = egress.trafficRules ?? [];
  const legacy = [egress.allowedCidrs, egress.allowedDomains, egress.allowedPorts, egress.deniedCidrs, egress.deniedDomains, egress.deniedPorts];
  if (rules.length > 0 && legacy.some((list) => list !== undefined && list.length > 0)) {
    return 'egress trafficRules cannot be combined with legacy allowed*/denied* fields';
  }
  const seen = new Set<string>();
  for (const rule of rules) {
    const name = rule.name ?? '';
    if (rule.action !== 'allow' && rule.action !== 'deny') {
      return `egress traffic rule "${name}" has unsupported action "${rule.action ?? ''}"`;
    }
    if (!nonEmpty(rule.cidrs) && !nonEmpty(rule.domains) && !nonEmpty(rule.ports) && !nonEmpty(rule.appProtocols)) {
      return `egress traffic rule "${name}" must define at least one matcher`;
    }
    const detail = trafficRuleFieldError(rule.cidrs, rule.domains, rule.ports, rule.appProtocols);
    if (detail) return `egress traffic rule "${name}" is invalid: ${detail}`;
    if (name !== '') {
      if (seen.has(name)) return `duplicate egress traffic rule name "${name}"`;
      seen.add(name);
    }
  }
  const protocolNames = new Set<string>();
  for (const rule of egress.protocolRules ?? []) {
    const name = rule.name ?? '';
    const detail = protocolRuleError(rule);
    if (detail) return `egress protocol rule "${name}" is invalid: ${detail}`;
    if (name !== '') {
      if (protocolNames.has(name)) return `duplicate egress protocol rule name "${name}"`;
      protocolNames.add(name);
    }
  }
  return undefined;
}

function trafficRuleFieldError(
  cidrs: readonly string[] | undefined,
  domains: readonly string[] | undefined,
  ports: readonly PortSpec[] | undefined,
  protocols: readonly string[] | undefined,
): string | undefined {
  for (const cidr of cidrs ?? []) {
    if (cidr.trim() === '') continue;
    if (!isCidr(cidr.trim())) return `invalid CIDR "${cidr}"`;
  }
  const domainError = domainsError(domains);
  if (domainError) return domainError;
  const portError = portsError(ports, false);
  if (portError) return portError;
  for (const p of protocols ?? []) {
    if (!supportedAppProtocols.has(p.trim().toLowerCase())) return `unsupported app protocol "${p}"`;
  }
  return undefined;
}

function domainsError(domains: readonly string[] | undefined): string | undefined {
  for (const d of domains ?? []) {
    if (d.trim().toLowerCase() === '*.') return `invalid wildcard domain "${d}"`;
  }
  return undefined;
}

function portsError(ports: readonly PortSpec[] | undefined, tcpOnly: boolean): string | undefined {
  for (const p of ports ?? []) {
    const port = p.port ?? 0;
    if (!Number.isInteger(port) || port < 1 || port > 65535) return `invalid port ${port}`;
    if (p.endPort !== undefined && p.endPort !== 0 && (p.endPort < port || p.endPort > 65535)) {
      return `invalid end port ${p.endPort}`;
    }
    const proto = (p.protocol ?? '').trim().toLowerCase();
    if (proto !== '' && proto !== 'tcp' && (tcpOnly || proto !== 'udp')) return `unsupported protocol "${p.protocol}"`;
  }
  return undefined;
}

/** CIDR notation only: a bare address is not a CIDR (Go's net.ParseCIDR). */
function isCidr(s: string): boolean {
  if (!s.includes('/')) return false;
  try {
    ipaddr.parseCIDR(s);
    return true;
  } catch {
    return false;
  }
}

function protocolRuleError(rule: NonNullable<NonNullable<SandboxNetworkPolicy['egress']>['protocolRules']>[number]): string | undefined {
  const protocol = (rule.protocol ?? '').trim().toLowerCase();
  if (protocol === 'http') {
    if (!rule.http) return 'http is required for protocol "http"';
    if (rule.mcp) return 'mcp is not allowed for protocol "http"';
  } else if (protocol === 'mcp') {
    if (!rule.mcp) return 'mcp is required for protocol "mcp"';
    if (rule.http) return 'http is not allowed for protocol "mcp"';
  } else {
    return `unsupported protocol "${rule.protocol ?? ''}"`;
  }
  const tlsMode = rule.tlsMode ?? '';
  if (tlsMode !== '' && tlsMode !== 'terminate-reoriginate') return `unsupported tlsMode "${tlsMode}"`;
  const domainError = domainsError(rule.domains);
  if (domainError) return domainError;
  const portError = portsError(rule.ports, true);
  if (portError) return portError;
  for (const m of rule.httpMatch?.methods ?? []) if (blank(m)) return 'httpMatch methods must not be empty';
  for (const p of rule.httpMatch?.paths ?? []) if (!p.startsWith('/')) return `httpMatch path "${p}" must start with /`;
  for (const p of rule.httpMatch?.pathPrefixes ?? []) if (!p.startsWith('/')) return `httpMatch path prefix "${p}" must start with /`;
  for (const m of [...(rule.http?.methods?.allowed ?? []), ...(rule.http?.methods?.denied ?? [])]) {
    if (blank(m)) return 'http methods must not be empty';
  }
  const paths = rule.http?.paths;
  for (const p of [...(paths?.allowed ?? []), ...(paths?.denied ?? []), ...(paths?.allowedPrefixes ?? []), ...(paths?.deniedPrefixes ?? [])]) {
    if (!p.startsWith('/')) return `http path "${p}" must start with /`;
  }
  return undefined;
}

/** Sections B (bindings), C (proxy) and C′ (credentialRules). */
export function validateCredentialPolicy(policy: SandboxNetworkPolicy): string | undefined {
  const bindings = policy.credentialBindings ?? [];
  const byRef = new Map<string, CredentialBinding>();
  for (const b of bindings) {
    const err = bindingError(b);
    if (err) return err;
    const ref = b.ref.trim();
    if (byRef.has(ref)) return `duplicate credential binding ref "${ref}"`;
    byRef.set(ref, b);
  }

  const proxy = policy.egress?.proxy;
  if (proxy) {
    if (proxy.type !== 'socks5') return `egress proxy type "${proxy.type ?? ''}" is not supported`;
    if (blank(proxy.address)) return 'egress proxy address is required';
    const ref = (proxy.credentialRef ?? '').trim();
    if (ref !== '') {
      const binding = byRef.get(ref);
      if (!binding) return `egress proxy credentialRef "${ref}" not found`;
      if (binding.projection.type !== 'username_password') {
        return `egress proxy credentialRef "${ref}" requires username_password projection`;
      }
    }
  }

  const ruleNames = new Set<string>();
  for (const rule of policy.egress?.credentialRules ?? []) {
    const ref = (rule.credentialRef ?? '').trim();
    if (ref === '') return 'egress rule credentialRef is required';
    const binding = byRef.get(ref);
    if (!binding) return `egress rule credentialRef "${ref}" not found`;
    const fit = projectionFitError(rule.protocol ?? '', rule.tlsMode ?? '', binding.projection.type, ref);
    if (fit) return fit;
    const name = rule.name ?? '';
    if (name !== '') {
      if (ruleNames.has(name)) return `duplicate egress rule name "${name}"`;
      ruleNames.add(name);
    }
  }
  return undefined;
}

function bindingError(b: CredentialBinding): string | undefined {
  const ref = (b.ref ?? '').trim();
  if (ref === '') return 'credential binding ref is required';
  if (blank(b.sourceRef)) return `credential binding sourceRef is required for "${ref}"`;
  const p = b.projection ?? { type: '' };
  switch (p.type) {
    case 'username_password':
      if (!p.usernamePassword) return `credential binding projection.usernamePassword is required for "${ref}"`;
      break;
    case 'http_headers': {
      const headers = p.httpHeaders?.headers ?? [];
      if (!p.httpHeaders || headers.length === 0) return `credential binding projection.httpHeaders.headers is required for "${ref}"`;
      for (const h of headers) {
        if (blank(h.name)) return `credential binding projection.httpHeaders header name is required for "${ref}"`;
        if (blank(h.valueTemplate)) return `credential binding projection.httpHeaders header valueTemplate is required for "${ref}"`;
      }
      break;
    }
    case 'placeholder_substitution': {
      const replacements = p.placeholderSubstitution?.replacements ?? [];
      if (replacements.length === 0) return `credential binding projection.placeholderSubstitution.replacements is required for "${ref}"`;
      for (const r of replacements) {
        if (blank(r.placeholder)) return `credential binding projection.placeholderSubstitution placeholder is required for "${ref}"`;
        if (blank(r.valueTemplate)) return `credential binding projection.placeholderSubstitution valueTemplate is required for "${ref}"`;
        if (!r.locations || r.locations.length === 0) return `credential binding projection.placeholderSubstitution locations are required for "${ref}"`;
        const seen = new Set<string>();
        for (const loc of r.locations) {
          if (!placeholderLocations.has(loc)) return `credential binding projection.placeholderSubstitution location "${loc}" is not supported for "${ref}"`;
          if (seen.has(loc)) return `credential binding projection.placeholderSubstitution location "${loc}" is duplicated for "${ref}"`;
          seen.add(loc);
        }
      }
      break;
    }
    case 'tls_client_certificate':
      if (!p.tlsClientCertificate) return `credential binding projection.tlsClientCertificate is required for "${ref}"`;
      break;
    case 'ssh_proxy':
      if (!p.sshProxy) return `credential binding projection.sshProxy is required for "${ref}"`;
      if (blank(p.sshProxy.upstreamUsername)) return `credential binding projection.sshProxy.upstreamUsername is required for "${ref}"`;
      if (!nonEmpty(p.sshProxy.sandboxPublicKeys)) return `credential binding projection.sshProxy.sandboxPublicKeys is required for "${ref}"`;
      break;
    default:
      return `credential binding projection type "${p.type ?? ''}" is not supported for "${ref}"`;
  }
  const ttl = b.cachePolicy?.ttl;
  if (ttl !== undefined && ttl !== '') {
    const parsed = parseGoDuration(ttl);
    if (!parsed.ok) return `credential binding cachePolicy ttl is invalid for "${ref}": ${parsed.error}`;
  }
  return undefined;
}

function projectionFitError(protocol: string, tlsMode: string, projection: string, ref: string): string | undefined {
  const proto = protocol.trim().toLowerCase();
  const need = (want: string) => (projection === want ? undefined : `egress rule credentialRef "${ref}" requires ${want} projection for protocol "${proto}"`);
  switch (proto) {
    case 'tls':
      if (tlsMode !== 'terminate-reoriginate') return `egress rule protocol "tls" requires tlsMode "terminate-reoriginate"`;
      return need('tls_client_certificate');
    case 'socks5':
    case 'mqtt':
    case 'redis':
      return need('username_password');
    case 'ssh':
      return need('ssh_proxy');
    default:
      if (projection === 'username_password' || projection === 'ssh_proxy' || projection === 'tls_client_certificate') {
        return `egress rule credentialRef "${ref}" projection "${projection}" is not supported for protocol "${proto}"`;
      }
      return undefined;
  }
}



const durationUnits: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration, in milliseconds, with Go's error text. */
export function parseGoDuration(input: string): { ok: true; ms: number } | { ok: false; error: string } {
  const invalid = { ok: false as const, error: `time: invalid duration "${input}"` };
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
    if (unit === '') return { ok: false, error: `time: missing unit in duration "${input}"` };
    const factor = durationUnits[unit];
    if (factor === undefined) return { ok: false, error: `time: unknown unit "${unit}" in duration "${input}"` };
    total += Number(m[1]) * factor;
    s = s.slice(m[0].length);
  }
  return { ok: true, ms: sign * total };
}
