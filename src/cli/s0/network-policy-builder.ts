import type { CredentialBinding, NetworkEgressPolicy, SandboxNetworkPolicy } from '../../policy/types.js';
import { parsePortSpec } from './port-spec.js';
import { buildProxyFromFlags } from './proxy-flag.js';
import { parseYamlText } from './yaml-text.js';

/** Everything `sandbox network update` accepts (names as the official CLI's flags). */
export interface NetworkUpdateOptions {
  mode: string;
  policyFile: string;
  allowedCidrs: string[];
  allowedDomains: string[];
  allowedPorts: string[];
  deniedCidrs: string[];
  deniedDomains: string[];
  deniedPorts: string[];
  trafficRules: string[];
  protocolRules: string[];
  credentialRules: string[];
  credentialBindings: string[];
  proxy: string;
  proxyCredentialRef: string;
  proxyCredentialSource: string;
}

export const emptyNetworkUpdateOptions = (): NetworkUpdateOptions => ({
  mode: '',
  policyFile: '',
  allowedCidrs: [],
  allowedDomains: [],
  allowedPorts: [],
  deniedCidrs: [],
  deniedDomains: [],
  deniedPorts: [],
  trafficRules: [],
  protocolRules: [],
  credentialRules: [],
  credentialBindings: [],
  proxy: '',
  proxyCredentialRef: '',
  proxyCredentialSource: '',
});

/** Reads `-f` (a path, or `-` for stdin); injected so the builder stays pure. */
export type PolicyFileReader = (path: string) => Promise<string>;

/** Schema facts the official CLI's generated decoder enforces before anything is sent. */
const objectSchemas = {
  TrafficRule: ['action'],
  ProtocolRule: ['protocol'],
  EgressCredentialRule: ['credentialRef'],
  CredentialBinding: ['ref', 'sourceRef', 'projection'],
  SandboxNetworkPolicy: ['mode'],
} as const;
type SchemaName = keyof typeof objectSchemas;

/**
 * Upstream decodes these values with ghodss/yaml (YAML 1.1 → JSON → the generated type); the error
 * prefixes are ghodss's, the required-field wording is the generated decoder's.
 */
export async function decodeYamlObject(text: string, schema: SchemaName): Promise<Record<string, unknown>> {
  let value: unknown;
  try {
    value = await parseYamlText(text);
  } catch (err) {
    throw new Error(`error converting YAML to JSON: yaml: ${(err as Error).message.split('\n')[0]}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`error unmarshaling JSON: decode ${schema}: expected a JSON/YAML object`);
  }
  const record = value as Record<string, unknown>;
  const missing = objectSchemas[schema].filter((field) => record[field] === undefined || record[field] === null);
  if (missing.length > 0) {
    throw new Error(`error unmarshaling JSON: decode ${schema}: invalid: ${missing.map((f) => `${f} (field required)`).join(', ')}`);
  }
  return record;
}

async function parseObjects(values: readonly string[], flag: string, schema: SchemaName): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const value of values) {
    try {
      out.push(await decodeYamlObject(value, schema));
    } catch (err) {
      throw new Error(`parse ${flag} value: ${(err as Error).message}`);
    }
  }
  return out;
}

function parsePorts(values: readonly string[], flag: string) {
  try {
    return values.map(parsePortSpec);
  } catch (err) {
    throw new Error(`parse ${flag}: ${(err as Error).message}`);
  }
}

const hasLegacyInputs = (o: NetworkUpdateOptions) =>
  o.allowedCidrs.length > 0 || o.allowedDomains.length > 0 || o.allowedPorts.length > 0 || o.deniedCidrs.length > 0 || o.deniedDomains.length > 0 || o.deniedPorts.length > 0;

const hasNonFileInputs = (o: NetworkUpdateOptions) =>
  o.mode.trim() !== '' ||
  hasLegacyInputs(o) ||
  o.trafficRules.length > 0 ||
  o.protocolRules.length > 0 ||
  o.credentialRules.length > 0 ||
  o.credentialBindings.length > 0 ||
  o.proxy.trim() !== '' ||
  o.proxyCredentialRef.trim() !== '' ||
  o.proxyCredentialSource.trim() !== '';

const nonEmpty = (list: readonly unknown[] | undefined) => (list?.length ?? 0) > 0;

/** The client-side checks upstream runs on the finished policy (`validateNetworkPolicy`). */
export function validateNetworkPolicy(policy: SandboxNetworkPolicy): void {
  if (policy.mode !== 'allow-all' && policy.mode !== 'block-all') {
    throw new Error(`invalid network policy: invalid: mode (invalid value: ${policy.mode})`);
  }
  const rules = policy.egress?.trafficRules ?? [];
  const badRule = rules.findIndex((r) => r.action !== 'allow' && r.action !== 'deny');
  if (badRule >= 0) {
    throw new Error(
      `invalid network policy: invalid: egress (invalid: trafficRules (invalid: [${badRule}] (invalid: action (invalid value: ${String(rules[badRule]!.action)}))))`,
    );
  }
  const e = policy.egress;
  if (e && nonEmpty(e.trafficRules) && (nonEmpty(e.allowedCidrs) || nonEmpty(e.allowedDomains) || nonEmpty(e.allowedPorts) || nonEmpty(e.deniedCidrs) || nonEmpty(e.deniedDomains) || nonEmpty(e.deniedPorts))) {
    throw new Error('egress trafficRules cannot be combined with legacy allowed*/denied* fields');
  }
}

/** `-f/--policy-file`: a whole SandboxNetworkPolicy in YAML or JSON. */
export async function parseNetworkPolicyFile(text: string): Promise<SandboxNetworkPolicy> {
  let policy: SandboxNetworkPolicy;
  try {
    policy = (await decodeYamlObject(text, 'SandboxNetworkPolicy')) as unknown as SandboxNetworkPolicy;
  } catch (err) {
    throw new Error(`parse network policy file: ${(err as Error).message}`);
  }
  validateNetworkPolicy(policy);
  return policy;
}

/**
 * The policy `sandbox network update` PUTs, built from flags in the official CLI's order of checks
 * (`buildNetworkPolicyFromUpdateOptions`); every error message is upstream's.
 */
export async function buildNetworkPolicy(o: NetworkUpdateOptions, readPolicyFile: PolicyFileReader): Promise<SandboxNetworkPolicy> {
  if (o.policyFile.trim() !== '') {
    if (hasNonFileInputs(o)) throw new Error('--policy-file cannot be combined with other network update flags');
    return parseNetworkPolicyFile(await readPolicyFile(o.policyFile));
  }
  const mode = o.mode.trim();
  if (mode === '') throw new Error('--mode is required unless --policy-file is provided');
  if (hasLegacyInputs(o) && o.trafficRules.length > 0) throw new Error('--traffic-rule cannot be combined with legacy allow/deny flags');

  const allowedPorts = parsePorts(o.allowedPorts, '--allow-port');
  const deniedPorts = parsePorts(o.deniedPorts, '--deny-port');
  const trafficRules = await parseObjects(o.trafficRules, '--traffic-rule', 'TrafficRule');
  const protocolRules = await parseObjects(o.protocolRules, '--protocol-rule', 'ProtocolRule');
  const credentialRules = await parseObjects(o.credentialRules, '--credential-rule', 'EgressCredentialRule');
  const bindings = (await parseObjects(o.credentialBindings, '--credential-binding', 'CredentialBinding')) as unknown as CredentialBinding[];
  const { proxy, binding } = buildProxyFromFlags({ proxy: o.proxy, credentialRef: o.proxyCredentialRef, credentialSource: o.proxyCredentialSource });
  if (binding) {
    if (bindings.some((b) => b.ref === binding.ref)) throw new Error(`credential binding "${binding.ref}" is already provided`);
    bindings.push(binding);
  }

  const policy: SandboxNetworkPolicy = { mode };
  const egress: NetworkEgressPolicy = {};
  if (o.allowedCidrs.length) egress.allowedCidrs = [...o.allowedCidrs];
  if (o.allowedDomains.length) egress.allowedDomains = [...o.allowedDomains];
  if (allowedPorts.length) egress.allowedPorts = allowedPorts;
  if (o.deniedCidrs.length) egress.deniedCidrs = [...o.deniedCidrs];
  if (o.deniedDomains.length) egress.deniedDomains = [...o.deniedDomains];
  if (deniedPorts.length) egress.deniedPorts = deniedPorts;
  if (trafficRules.length) egress.trafficRules = trafficRules as unknown as NetworkEgressPolicy['trafficRules'];
  if (protocolRules.length) egress.protocolRules = protocolRules as unknown as NetworkEgressPolicy['protocolRules'];
  if (credentialRules.length) egress.credentialRules = credentialRules as unknown as NetworkEgressPolicy['credentialRules'];
  if (proxy) egress.proxy = proxy;
  if (Object.keys(egress).length > 0) policy.egress = egress;
  // Left out when empty, so the server keeps the bindings it already has.
  if (bindings.length > 0) policy.credentialBindings = bindings;

  validateNetworkPolicy(policy);
  return policy;
}
