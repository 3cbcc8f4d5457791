import { createHash } from 'node:crypto';
import type { NetworkEgressPolicy, SandboxNetworkPolicy } from './types.js';

/**
 * Go's `omitempty` on the way out: empty strings, empty lists and absent objects are left out;
 * `egress` is left out when every list is empty and there is no proxy. Objects that upstream keeps
 * even when empty (`usernamePassword: {}`) stay.
 */
export function omitEmpty<T>(value: T): T {
  return prune(value) as T;
}

function prune(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(prune);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0)) continue;
    out[k] = prune(v);
  }
  return out;
}

export function isEmptyEgress(e: NetworkEgressPolicy | undefined): boolean {
  if (!e) return true;
  if (e.proxy) return false;
  const lists = [e.allowedCidrs, e.allowedDomains, e.allowedPorts, e.deniedCidrs, e.deniedDomains, e.deniedPorts, e.trafficRules, e.protocolRules, e.credentialRules];
  return lists.every((l) => !l || l.length === 0);
}

/** The wire form of a policy: omitempty applied, empty egress dropped, mode defaulted to allow-all. */
export function policyForOutput(policy: SandboxNetworkPolicy): SandboxNetworkPolicy {
  const out: SandboxNetworkPolicy = { mode: policy.mode || 'allow-all' };
  if (!isEmptyEgress(policy.egress)) out.egress = omitEmpty(policy.egress);
  if (policy.credentialBindings?.length) out.credentialBindings = omitEmpty(policy.credentialBindings);
  return out;
}

export function policyHash(policy: SandboxNetworkPolicy): string {
  return createHash('sha256').update(JSON.stringify(policy)).digest('hex').slice(0, 16);
}
