/**
 * The Sandbox0 network policy wire model (camelCase, as upstream's SandboxNetworkPolicy).
 * Shared by the API (validation, storage), the compiler/evaluator and the gateway.
 * Fields are optional exactly where upstream's are; unknown fields are dropped at the API edge.
 */

export type NetworkMode = 'allow-all' | 'block-all';

export interface PortSpec {
  port: number;
  protocol?: string;
  endPort?: number;
}

export interface TrafficRule {
  name?: string;
  action: string; // 'allow' | 'deny' once validated
  cidrs?: string[];
  domains?: string[];
  ports?: PortSpec[];
  appProtocols?: string[];
}

export interface HttpValueMatch {
  name: string;
  values?: string[];
  present?: boolean;
}

export interface HttpMatch {
  methods?: string[];
  paths?: string[];
  pathPrefixes?: string[];
  query?: HttpValueMatch[];
  headers?: HttpValueMatch[];
}

export interface ProtocolRule {
  name?: string;
  protocol: string;
  domains?: string[];
  ports?: PortSpec[];
  tlsMode?: string;
  httpMatch?: HttpMatch;
  http?: {
    methods?: { allowed?: string[]; denied?: string[] };
    paths?: { allowed?: string[]; denied?: string[]; allowedPrefixes?: string[]; deniedPrefixes?: string[] };
  };
  mcp?: { tools?: { allowed?: string[]; denied?: string[] } };
}

export interface EgressCredentialRule {
  name?: string;
  credentialRef: string;
  rollout?: string;
  protocol?: string;
  tlsMode?: string;
  failurePolicy?: string;
  domains?: string[];
  ports?: PortSpec[];
  httpMatch?: HttpMatch;
}

export interface EgressProxyPolicy {
  type: string; // 'socks5' once validated
  address: string;
  credentialRef?: string;
}

export interface NetworkEgressPolicy {
  allowedCidrs?: string[];
  allowedDomains?: string[];
  allowedPorts?: PortSpec[];
  deniedCidrs?: string[];
  deniedDomains?: string[];
  deniedPorts?: PortSpec[];
  trafficRules?: TrafficRule[];
  protocolRules?: ProtocolRule[];
  credentialRules?: EgressCredentialRule[];
  proxy?: EgressProxyPolicy;
}

export type CredentialProjectionType =
  | 'http_headers'
  | 'placeholder_substitution'
  | 'tls_client_certificate'
  | 'username_password'
  | 'ssh_proxy';

export interface ProjectionSpec {
  type: string; // CredentialProjectionType once validated
  httpHeaders?: { headers?: { name: string; valueTemplate: string }[] };
  placeholderSubstitution?: {
    replacements?: { placeholder: string; valueTemplate: string; locations: string[] }[];
  };
  tlsClientCertificate?: Record<string, never>;
  usernamePassword?: Record<string, never>;
  sshProxy?: { sandboxPublicKeys?: string[]; upstreamUsername?: string; knownHosts?: string[] };
}

export interface CredentialBinding {
  ref: string;
  sourceRef: string;
  projection: ProjectionSpec;
  cachePolicy?: { ttl?: string };
}

export interface SandboxNetworkPolicy {
  mode: string; // NetworkMode once validated; '' means allow-all when compiling
  egress?: NetworkEgressPolicy;
  credentialBindings?: CredentialBinding[];
}

/** Application protocols a classifier can report (plus `udp` for datagrams). */
export const appProtocols = ['http', 'tls', 'ssh', 'socks5', 'mqtt', 'redis', 'amqp', 'dns', 'mongodb', 'udp'] as const;
export type AppProtocol = (typeof appProtocols)[number];

/** Audit/decision reason codes, exactly as upstream (reference §6). */
export const reasonCodes = [
  'allowed',
  'l4_denied',
  'l7_denied',
  'missing_host',
  'missing_sni',
  'client_idle',
  'classification_timeout',
  'read_failed',
  'header_limit_exceeded',
  'unclassified',
  'missing_original_dst',
  'host_resolution_failed',
  'host_dest_mismatch',
  'server_first_probe',
] as const;
export type ReasonCode = (typeof reasonCodes)[number];

/** Reasons a classifier gives for traffic it could not classify. */
export type UnknownReason = Extract<
  ReasonCode,
  'missing_host' | 'missing_sni' | 'client_idle' | 'classification_timeout' | 'read_failed' | 'header_limit_exceeded' | 'unclassified' | 'missing_original_dst'
>;
