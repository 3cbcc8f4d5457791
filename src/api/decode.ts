import { scanFirstJsonValue } from '../go/json-scan.js';
import {
  decodeGoJson,
  goBool,
  goInt32,
  goMap,
  goOpaque,
  goPtr,
  goSlice,
  goString,
  goStruct,
  GoJsonTypeError,
  type GoType,
  type UnknownField,
} from '../go/json-decode.js';
import { ApiError } from './error-status.js';

/**
 * Request decoding with Go's encoding/json semantics (go/json-decode.ts), so error texts match
 * upstream's `invalid request: <go error>`. The types below are upstream's request structs, with the
 * Go type names their errors print (package-qualified, as reflect prints them).
 */

const str = goString();
const strs = goSlice(str);
const v1 = (name: string) => `v1alpha1.${name}`;

const portSpec = goStruct(v1('PortSpec'), { port: goInt32, protocol: str, endPort: goPtr(goInt32) });
const ports = goSlice(portSpec);
const trafficRule = goStruct(v1('TrafficRule'), {
  name: str,
  action: goString(v1('TrafficRuleAction')),
  cidrs: strs,
  domains: strs,
  ports,
  appProtocols: goSlice(goString(v1('TrafficRuleAppProtocol'))),
});
const valueMatch = goStruct(v1('HTTPValueMatch'), { name: str, values: strs, present: goBool });
const httpMatch = goStruct(v1('HTTPMatch'), { methods: strs, paths: strs, pathPrefixes: strs, query: goSlice(valueMatch), headers: goSlice(valueMatch) });
const tlsMode = goString(v1('EgressTLSMode'));
const protocolRule = goStruct(v1('ProtocolRule'), {
  name: str,
  protocol: goString(v1('ProtocolRuleProtocol')),
  domains: strs,
  ports,
  tlsMode,
  httpMatch: goPtr(httpMatch),
  http: goPtr(
    goStruct(v1('HTTPProtocolRule'), {
      methods: goPtr(goStruct(v1('HTTPMethodPolicy'), { allowed: strs, denied: strs })),
      paths: goPtr(goStruct(v1('HTTPPathPolicy'), { allowed: strs, denied: strs, allowedPrefixes: strs, deniedPrefixes: strs })),
    }),
  ),
  mcp: goPtr(goStruct(v1('MCPProtocolRule'), { tools: goPtr(goStruct(v1('MCPToolPolicy'), { allowed: strs, denied: strs })) })),
});
const credentialRule = goStruct(v1('EgressCredentialRule'), {
  name: str,
  credentialRef: str,
  rollout: goString(v1('EgressAuthRolloutMode')),
  protocol: goString(v1('EgressAuthProtocol')),
  tlsMode,
  failurePolicy: goString(v1('EgressAuthFailurePolicy')),
  domains: strs,
  ports,
  httpMatch: goPtr(httpMatch),
});
const egress = goStruct(v1('NetworkEgressPolicy'), {
  allowedCidrs: strs,
  allowedDomains: strs,
  deniedCidrs: strs,
  deniedDomains: strs,
  allowedPorts: ports,
  deniedPorts: ports,
  trafficRules: goSlice(trafficRule),
  protocolRules: goSlice(protocolRule),
  credentialRules: goSlice(credentialRule),
  proxy: goPtr(goStruct(v1('EgressProxyPolicy'), { type: goString(v1('EgressProxyType')), address: str, credentialRef: str })),
});
const projection = goStruct(v1('ProjectionSpec'), {
  type: goString(v1('CredentialProjectionType')),
  httpHeaders: goPtr(goStruct(v1('HTTPHeadersProjection'), { headers: goSlice(goStruct(v1('ProjectedHeader'), { name: str, valueTemplate: str })) })),
  placeholderSubstitution: goPtr(
    goStruct(v1('PlaceholderSubstitutionProjection'), {
      replacements: goSlice(
        goStruct(v1('PlaceholderReplacement'), { placeholder: str, valueTemplate: str, locations: goSlice(goString(v1('PlaceholderSubstitutionLocation'))) }),
      ),
    }),
  ),
  tlsClientCertificate: goPtr(goStruct(v1('TLSClientCertificateProjection'), {})),
  usernamePassword: goPtr(goStruct(v1('UsernamePasswordProjection'), {})),
  sshProxy: goPtr(goStruct(v1('SSHProxyProjection'), { sandboxPublicKeys: strs, upstreamUsername: str, knownHosts: strs })),
});
const binding = goStruct(v1('CredentialBinding'), {
  ref: str,
  sourceRef: str,
  projection,
  cachePolicy: goPtr(goStruct(v1('CachePolicySpec'), { ttl: str })),
});

/** v1alpha1.SandboxNetworkPolicy (manager/pkg/apis/sandbox0/v1alpha1/sandboxtemplate_types.go). */
export const networkPolicySchema: GoType = goStruct(v1('SandboxNetworkPolicy'), {
  mode: goString(v1('NetworkPolicyMode')),
  egress: goPtr(egress),
  credentialBindings: goSlice(binding),
});

/** service.ClaimRequest (manager/pkg/service/sandbox_service_claim.go); TeamID/UserID have no tag, so Go reads them by field name. */
export const claimRequestSchema: GoType = goStruct('service.ClaimRequest', {
  TeamID: str,
  UserID: str,
  template: str,
  snapshot_id: str,
  config: goPtr(
    goStruct('sandboxstore.SandboxConfig', {
      env_vars: goMap(str),
      resources: goPtr(goStruct('managerapi.SandboxResourceConfig', { memory: str })),
      ttl: goPtr(goInt32),
      hard_ttl: goPtr(goInt32),
      network: goPtr(networkPolicySchema),
      webhook: goPtr(goStruct('runtimecontrol.WebhookConfig', { url: str, secret: str, watch_dir: str })),
      auto_resume: goPtr(goBool),
      // SandboxAppService has its own UnmarshalJSON; the emulator stores services as given.
      services: goSlice(goOpaque('managerapi.SandboxAppService')),
    }),
  ),
});

/** egressauthstore.CredentialSourceWriteRequest (manager/pkg/egressauthstore/sources.go). */
export const credentialSourceWriteSchema: GoType = goStruct('egressauthstore.CredentialSourceWriteRequest', {
  name: str,
  resolverKind: str,
  storageKind: str,
  spec: goStruct('egressauthstore.CredentialSourceSecretSpec', {
    staticHeaders: goPtr(goStruct('egressauthstore.StaticHeadersSourceSpec', { values: goMap(str) })),
    staticTLSClientCertificate: goPtr(goStruct('egressauthstore.StaticTLSClientCertificateSourceSpec', { certificatePem: str, privateKeyPem: str, caPem: str })),
    staticUsernamePassword: goPtr(goStruct('egressauthstore.StaticUsernamePasswordSourceSpec', { username: str, password: str })),
    staticSSHPrivateKey: goPtr(goStruct('egressauthstore.StaticSSHPrivateKeySourceSpec', { privateKeyPem: str, passphrase: str })),
  }),
  externalRef: goPtr(
    goStruct('egressauthstore.CredentialSourceExternalRefSpec', { provider: str, connection: str, mount: str, path: str, version: str, fields: goMap(str) }),
  ),
});

/**
 * The first JSON value of a request body, checked as Go's `json.Decoder` reads it (gin's binding): its
 * syntax errors, `EOF` / `unexpected EOF`, the 10,000-level depth limit; bytes after the value are
 * ignored. Returns the value's text.
 */
function firstValueText(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  const scan = scanFirstJsonValue(bytes);
  if (scan.kind === 'error') throw new ApiError('bad_request', `invalid request: ${scan.message}`);
  return bytes.subarray(0, scan.end).toString('utf8');
}

/** The first JSON value of a body as a plain value (syntax as Go reads it). */
export function parseJsonText(text: string): unknown {
  return JSON.parse(firstValueText(text)) as unknown;
}

/**
 * Decodes a request body into one of the types above with Go's semantics. The value has the fields
 * that were present (a Go zero value stays absent), and `unknownFields` names the keys that matched
 * no field (Go ignores them; the emulator warns about them).
 */
export function decodeBodyWithUnknown(text: string, type: GoType): { value: Record<string, unknown>; unknownFields: UnknownField[] } {
  try {
    const { value, unknownFields } = decodeGoJson(firstValueText(text), type);
    return { value: (value ?? {}) as Record<string, unknown>, unknownFields };
  } catch (err) {
    if (err instanceof GoJsonTypeError) throw new ApiError('bad_request', `invalid request: ${err.message}`);
    throw err;
  }
}

/** decodeBodyWithUnknown for the routes that do not report unknown fields. */
export function decodeBody(text: string, type: GoType, _structName?: string): Record<string, unknown> {
  return decodeBodyWithUnknown(text, type).value;
}
