import { z } from 'zod';
import { scanFirstJsonValue } from './go-json-scan.js';
import { ApiError } from '../errors.js';

/**
 * Request decoding with Go's encoding/json semantics, so error texts match upstream's
 * `invalid request: <go error>`: unknown fields are ignored, `null` means "absent", a wrong JSON type
 * is `json: cannot unmarshal <json type> into Go struct field <Struct>.<path> of type <go type>`.
 */

const str = () => z.string().nullish();
const int32 = () => z.number().int().min(-2147483648).max(2147483647).nullish();
const strList = () => z.array(z.string()).nullish();

const portSpec = z.object({ port: z.number().int().min(-2147483648).max(2147483647).nullish(), protocol: str(), endPort: int32() });
const ports = () => z.array(portSpec).nullish();
const trafficRule = z.object({ name: str(), action: str(), cidrs: strList(), domains: strList(), ports: ports(), appProtocols: strList() });
const valueMatch = z.object({ name: str(), values: strList(), present: z.boolean().nullish() });
const httpMatch = z.object({ methods: strList(), paths: strList(), pathPrefixes: strList(), query: z.array(valueMatch).nullish(), headers: z.array(valueMatch).nullish() });
const allowDeny = z.object({ allowed: strList(), denied: strList() });
const protocolRule = z.object({
  name: str(),
  protocol: str(),
  domains: strList(),
  ports: ports(),
  tlsMode: str(),
  httpMatch: httpMatch.nullish(),
  http: z.object({ methods: allowDeny.nullish(), paths: z.object({ allowed: strList(), denied: strList(), allowedPrefixes: strList(), deniedPrefixes: strList() }).nullish() }).nullish(),
  mcp: z.object({ tools: allowDeny.nullish() }).nullish(),
});
const credentialRule = z.object({
  name: str(),
  credentialRef: str(),
  rollout: str(),
  protocol: str(),
  tlsMode: str(),
  failurePolicy: str(),
  domains: strList(),
  ports: ports(),
  httpMatch: httpMatch.nullish(),
});
const proxy = z.object({ type: str(), address: str(), credentialRef: str() });
const egress = z.object({
  allowedCidrs: strList(),
  allowedDomains: strList(),
  allowedPorts: ports(),
  deniedCidrs: strList(),
  deniedDomains: strList(),
  deniedPorts: ports(),
  trafficRules: z.array(trafficRule).nullish(),
  protocolRules: z.array(protocolRule).nullish(),
  credentialRules: z.array(credentialRule).nullish(),
  proxy: proxy.nullish(),
});
const emptyObject = z.object({});
const projection = z.object({
  type: str(),
  httpHeaders: z.object({ headers: z.array(z.object({ name: str(), valueTemplate: str() })).nullish() }).nullish(),
  placeholderSubstitution: z
    .object({ replacements: z.array(z.object({ placeholder: str(), valueTemplate: str(), locations: strList() })).nullish() })
    .nullish(),
  tlsClientCertificate: emptyObject.nullish(),
  usernamePassword: emptyObject.nullish(),
  sshProxy: z.object({ sandboxPublicKeys: strList(), upstreamUsername: str(), knownHosts: strList() }).nullish(),
});
const binding = z.object({ ref: str(), sourceRef: str(), projection: projection.nullish(), cachePolicy: z.object({ ttl: str() }).nullish() });

export const networkPolicySchema = z.object({ mode: str(), egress: egress.nullish(), credentialBindings: z.array(binding).nullish() });

export const claimRequestSchema = z.object({
  template: str(),
  snapshot_id: str(),
  config: z
    .object({
      env_vars: z.record(z.string(), z.string()).nullish(),
      resources: z.object({ memory: str() }).nullish(),
      ttl: int32(),
      hard_ttl: int32(),
      network: networkPolicySchema.nullish(),
      webhook: z.object({ url: str(), secret: str(), watch_dir: str() }).nullish(),
      auto_resume: z.boolean().nullish(),
      services: z.array(z.unknown()).nullish(),
    })
    .nullish(),
});

export const credentialSourceWriteSchema = z.object({
  name: str(),
  resolverKind: str(),
  storageKind: str(),
  externalRef: str(),
  spec: z
    .object({
      staticHeaders: z.object({ values: z.record(z.string(), z.string()).nullish() }).nullish(),
      staticTLSClientCertificate: z.object({ certificatePem: str(), privateKeyPem: str(), caPem: str() }).nullish(),
      staticUsernamePassword: z.object({ username: str(), password: str() }).nullish(),
      staticSSHPrivateKey: z.object({ privateKeyPem: str(), passphrase: str() }).nullish(),
    })
    .nullish(),
});

/** Go type names for the error text, by JSON field name (structs) or by zod's expected type. */
const goStructs: Record<string, string> = {
  egress: 'v1alpha1.NetworkEgressPolicy',
  trafficRules: '[]v1alpha1.TrafficRule',
  protocolRules: '[]v1alpha1.ProtocolRule',
  credentialRules: '[]v1alpha1.EgressCredentialRule',
  credentialBindings: '[]v1alpha1.CredentialBinding',
  allowedPorts: '[]v1alpha1.PortSpec',
  deniedPorts: '[]v1alpha1.PortSpec',
  ports: '[]v1alpha1.PortSpec',
  proxy: 'v1alpha1.EgressProxyPolicy',
  projection: 'v1alpha1.ProjectionSpec',
  cachePolicy: 'v1alpha1.CachePolicySpec',
  httpMatch: 'v1alpha1.HTTPMatch',
  config: 'v1alpha1.SandboxConfig',
  network: 'v1alpha1.SandboxNetworkPolicy',
  spec: 'v1alpha1.CredentialSourceWriteSpec',
  env_vars: 'map[string]string',
  values: 'map[string]string',
  port: 'int32',
  endPort: 'int32',
  ttl: 'int32',
  hard_ttl: 'int32',
};

function jsonTypeOf(v: unknown, numberLiteral = false): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return numberLiteral ? `number ${v}` : 'number';
  if (typeof v === 'object') return 'object';
  return typeof v;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur = root;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

function goTypeFor(issue: z.core.$ZodIssue, value: unknown): string {
  const field = [...issue.path].reverse().find((k) => typeof k === 'string') as string | undefined;
  const lastIsIndex = typeof issue.path[issue.path.length - 1] === 'number';
  if (field && goStructs[field]) {
    const t = goStructs[field];
    return lastIsIndex && t.startsWith('[]') ? t.slice(2) : t;
  }
  if (issue.code === 'invalid_type') {
    if (issue.expected === 'string') return 'string';
    if (issue.expected === 'boolean') return 'bool';
    if (issue.expected === 'array') return '[]string';
    if (issue.expected === 'number' || issue.expected === 'int') return 'int32';
  }
  if (typeof value === 'number') return 'int32';
  return 'string';
}

function goError(structName: string, issue: z.core.$ZodIssue, input: unknown): string {
  const value = valueAt(input, issue.path);
  const fieldPath = issue.path.filter((k) => typeof k === 'string').join('.');
  const where = fieldPath ? `Go struct field ${structName}.${fieldPath}` : `Go value`;
  // Go quotes the literal only when a number does not fit the integer type it was meant for.
  const numberLiteral = typeof value === 'number' && !(issue.code === 'invalid_type' && issue.expected !== 'int');
  return `json: cannot unmarshal ${jsonTypeOf(value, numberLiteral)} into ${where} of type ${fieldPath ? goTypeFor(issue, value) : 'map[string]interface {}'}`;
}

/** Removes `null`s recursively (Go leaves a null field at its zero value) and drops endPort 0. */
function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === null || v === undefined) continue;
    out[k] = dropNulls(v);
  }
  return out;
}

/**
 * The first JSON value of a request body, read as Go's `json.Decoder` reads it (gin's binding): its
 * syntax errors, `EOF` / `unexpected EOF`, the 10,000-level depth limit, and bytes after the value
 * ignored.
 */
export function parseJsonText(text: string): unknown {
  const bytes = Buffer.from(text, 'utf8');
  const scan = scanFirstJsonValue(bytes);
  if (scan.kind === 'error') throw new ApiError('bad_request', `invalid request: ${scan.message}`);
  return JSON.parse(bytes.subarray(0, scan.end).toString('utf8'));
}

/** Parses a JSON request body against a schema with Go's decoding semantics. */
export function decodeBody<S extends z.ZodType>(text: string, schema: S, structName: string): z.output<S> {
  const input = parseJsonText(text);
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ApiError('bad_request', `invalid request: json: cannot unmarshal ${jsonTypeOf(input)} into Go value of type ${structName.includes('.') ? structName : `v1alpha1.${structName}`}`);
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ApiError('bad_request', `invalid request: ${goError(structName, issue, input)}`);
  }
  return dropNulls(parsed.data) as z.output<S>;
}
