/**
 * What an allowed flow's route means for its audit attempt and its dial: the proxy attributes and the
 * proxy credentials. Shared by a flow and by the server-first probe, which dials as the flow would.
 */
import { formatHostPort } from '../net/host-port.js';
import type { NetworkAuditAttributes } from './audit.js';
import type { CredentialResolver } from './credentials.js';
import type { FlowVerdict } from './decide.js';

export type AllowedVerdict = Extract<FlowVerdict, { verdict: 'allow' }>;
export type ProxyCredentials = { username: string; password: string };

/** The attempt's proxy attributes (`proxy_address`, `proxy_target*`, `auth_ref`); none for a direct route. */
export function proxyRouteAttributes(verdict: AllowedVerdict): Partial<NetworkAuditAttributes> {
  if (verdict.route !== 'proxy') return {};
  return {
    proxy_address: verdict.proxy.address,
    proxy_target_atyp: verdict.target.atyp,
    proxy_target: formatHostPort({ host: verdict.target.host, port: verdict.target.port }),
    auth_ref: verdict.proxy.credentialRef,
  };
}

export type RouteCredentials =
  | { ok: true; credentials?: ProxyCredentials; auth: Pick<NetworkAuditAttributes, 'auth_resolved' | 'auth_cache_hit'> }
  | { ok: false; message: string; auth: Pick<NetworkAuditAttributes, 'auth_resolved'> };

/** The proxy credentials the route needs (resolved through the sandbox's binding), with their audit attributes. */
export function routeCredentials(resolver: CredentialResolver, sandboxId: string, verdict: AllowedVerdict): RouteCredentials {
  if (verdict.route !== 'proxy' || !verdict.proxy.credentialRef) return { ok: true, auth: {} };
  const resolved = resolver.resolve(sandboxId, verdict.proxy.credentialRef, { host: verdict.target.host, port: verdict.target.port });
  if (!resolved.ok) return { ok: false, message: resolved.message, auth: { auth_resolved: false } };
  return { ok: true, credentials: { username: resolved.username, password: resolved.password }, auth: { auth_resolved: true, auth_cache_hit: resolved.cacheHit } };
}
