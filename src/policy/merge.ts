import type { CredentialBinding, NetworkEgressPolicy, SandboxNetworkPolicy } from './types.js';

/**
 * Template merge (upstream networkpolicy/service.go): the request's mode wins; legacy lists are
 * concatenated; traffic/protocol/credential rules are merged by name (a request rule with a template
 * rule's name replaces it in place, unnamed rules are appended); a request proxy replaces the
 * template's; bindings are merged by ref.
 */
export function mergeWithTemplate(template: SandboxNetworkPolicy | undefined, request: SandboxNetworkPolicy): SandboxNetworkPolicy {
  if (!template) return request;
  const merged: SandboxNetworkPolicy = { mode: request.mode || template.mode };
  const egress = mergeEgress(template.egress, request.egress);
  if (egress) merged.egress = egress;
  const bindings = mergeBindings(template.credentialBindings, request.credentialBindings);
  if (bindings) merged.credentialBindings = bindings;
  return merged;
}

function mergeEgress(t: NetworkEgressPolicy | undefined, r: NetworkEgressPolicy | undefined): NetworkEgressPolicy | undefined {
  if (!t) return r;
  if (!r) return t;
  const out: NetworkEgressPolicy = {};
  for (const key of ['allowedCidrs', 'allowedDomains', 'deniedCidrs', 'deniedDomains'] as const) {
    const list = [...(t[key] ?? []), ...(r[key] ?? [])];
    if (list.length) out[key] = list;
  }
  for (const key of ['allowedPorts', 'deniedPorts'] as const) {
    const list = [...(t[key] ?? []), ...(r[key] ?? [])];
    if (list.length) out[key] = list;
  }
  const trafficRules = mergeByKey(t.trafficRules, r.trafficRules, (x) => x.name ?? '');
  if (trafficRules) out.trafficRules = trafficRules;
  const protocolRules = mergeByKey(t.protocolRules, r.protocolRules, (x) => x.name ?? '');
  if (protocolRules) out.protocolRules = protocolRules;
  const credentialRules = mergeByKey(t.credentialRules, r.credentialRules, (x) => x.name ?? '');
  if (credentialRules) out.credentialRules = credentialRules;
  const proxy = r.proxy ?? t.proxy;
  if (proxy) out.proxy = proxy;
  return out;
}

export function mergeBindings(t: CredentialBinding[] | undefined, r: CredentialBinding[] | undefined): CredentialBinding[] | undefined {
  return mergeByKey(t, r, (b) => b.ref);
}

/** Items of `base` in order, a same-key item of `extra` replacing one in place, the rest appended. */
function mergeByKey<T>(base: T[] | undefined, extra: T[] | undefined, key: (item: T) => string): T[] | undefined {
  if (!base?.length) return extra;
  if (!extra?.length) return base;
  const out = [...base];
  for (const item of extra) {
    const k = key(item);
    const at = k === '' ? -1 : out.findIndex((existing) => key(existing) === k);
    if (at >= 0) out[at] = item;
    else out.push(item);
  }
  return out;
}
