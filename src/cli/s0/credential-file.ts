import { goQuote } from '../../go/quote.js';
import { parseYamlText } from './yaml-text.js';

/** The kinds `s0 credential create|update` accepts (`internal/commands/credential_source.go`). */
export const cliResolverKinds = ['static_headers', 'static_tls_client_certificate', 'static_username_password'] as const;
export type CliResolverKind = (typeof cliResolverKinds)[number];

export interface CredentialSourceWriteRequest {
  name: string;
  resolverKind: CliResolverKind;
  spec: {
    staticHeaders?: { values: Record<string, string> };
    staticTLSClientCertificate?: { certificatePem: string; privateKeyPem: string; caPem?: string };
    staticUsernamePassword?: { username: string; password: string };
  };
}

const fileStruct = 'commands.credentialSourceWriteRequestFile';

function jsonType(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'object' : typeof v;
}

/**
 * ghodss/yaml turns scalars into strings when the Go field is a string; anything else in a string
 * field is Go's `cannot unmarshal` error.
 */
function asString(value: unknown, path: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new Error(`error unmarshaling JSON: json: cannot unmarshal ${jsonType(value)} into Go struct field ${path} of type string`);
}

function asObject(value: unknown, path: string, goType: string): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  throw new Error(`error unmarshaling JSON: json: cannot unmarshal ${jsonType(value)} into Go struct field ${path} of type ${goType}`);
}

interface DecodedFile {
  name: string;
  resolverKind: string;
  staticHeaders?: { values: Record<string, string> };
  staticTLSClientCertificate?: { certificatePem: string; privateKeyPem: string; caPem: string };
  staticUsernamePassword?: { username: string; password: string };
}

/** Step 1, as ghodss/yaml into upstream's file struct: YAML 1.1 → JSON → typed fields. */
async function decodeFile(text: string): Promise<DecodedFile> {
  let doc: unknown;
  try {
    doc = await parseYamlText(text);
  } catch (err) {
    throw new Error(`error converting YAML to JSON: yaml: ${(err as Error).message.split('\n')[0]}`);
  }
  const root = 'credentialSourceWriteRequestFile';
  if (doc !== null && doc !== undefined && (typeof doc !== 'object' || Array.isArray(doc))) {
    throw new Error(`error unmarshaling JSON: json: cannot unmarshal ${jsonType(doc)} into Go value of type ${fileStruct}`);
  }
  const file = (doc ?? {}) as Record<string, unknown>;
  const out: DecodedFile = { name: asString(file.name, `${root}.name`), resolverKind: asString(file.resolverKind, `${root}.resolverKind`) };
  const spec = asObject(file.spec, `${root}.spec`, 'commands.credentialSourceWriteRequestSpecFile') ?? {};
  const headers = asObject(spec.staticHeaders, `${root}.spec.staticHeaders`, '*commands.credentialSourceStaticHeadersFile');
  if (headers) {
    const values: Record<string, string> = {};
    const raw = asObject(headers.values, `${root}.spec.staticHeaders.values`, 'map[string]string') ?? {};
    for (const [k, v] of Object.entries(raw)) values[k] = asString(v, `${root}.spec.staticHeaders.values`);
    out.staticHeaders = { values };
  }
  const tlsPath = `${root}.spec.staticTLSClientCertificate`;
  const tls = asObject(spec.staticTLSClientCertificate, tlsPath, '*commands.credentialSourceStaticTLSClientCertificateFile');
  if (tls) {
    out.staticTLSClientCertificate = {
      certificatePem: asString(tls.certificatePem, `${tlsPath}.certificatePem`),
      privateKeyPem: asString(tls.privateKeyPem, `${tlsPath}.privateKeyPem`),
      caPem: asString(tls.caPem, `${tlsPath}.caPem`),
    };
  }
  const upPath = `${root}.spec.staticUsernamePassword`;
  const up = asObject(spec.staticUsernamePassword, upPath, '*commands.credentialSourceStaticUsernamePasswordFile');
  if (up) out.staticUsernamePassword = { username: asString(up.username, `${upPath}.username`), password: asString(up.password, `${upPath}.password`) };
  return out;
}

/** The spec section the resolver kind needs, which the official CLI requires. */
function section<T>(value: T | undefined, key: string, resolverKind: string): T {
  if (!value) throw new Error(`spec.${key} is required for resolverKind "${resolverKind}"`);
  return value;
}

/** A spec field the official CLI requires: trimmed, and not empty. */
function requiredField(value: string, path: string): string {
  const trimmed = value.trim();
  if (trimmed === '') throw new Error(`${path} is required`);
  return trimmed;
}

/**
 * Parses a credential source file (YAML or JSON) into the write request, with the official CLI's
 * checks and messages: the name is required (even for update), only three resolver kinds, and the
 * spec for the chosen kind must be present. Unknown fields are ignored, as upstream does.
 */
export async function parseCredentialSourceFile(text: string): Promise<CredentialSourceWriteRequest> {
  let file: DecodedFile;
  try {
    file = await decodeFile(text);
  } catch (err) {
    throw new Error(`parse spec file: ${(err as Error).message}`);
  }
  const name = file.name.trim();
  if (name === '') throw new Error('credential source name is required');
  const kind = file.resolverKind.trim();
  if (!(cliResolverKinds as readonly string[]).includes(kind)) {
    throw new Error(`invalid resolverKind ${goQuote(file.resolverKind)}, must be one of: ${cliResolverKinds.join(', ')}`);
  }
  const resolverKind = kind as CliResolverKind;
  const req: CredentialSourceWriteRequest = { name, resolverKind, spec: {} };
  switch (resolverKind) {
    case 'static_headers':
      req.spec.staticHeaders = section(file.staticHeaders, 'staticHeaders', resolverKind);
      break;
    case 'static_tls_client_certificate': {
      const tls = section(file.staticTLSClientCertificate, 'staticTLSClientCertificate', resolverKind);
      const caPem = tls.caPem.trim();
      req.spec.staticTLSClientCertificate = {
        certificatePem: requiredField(tls.certificatePem, 'spec.staticTLSClientCertificate.certificatePem'),
        privateKeyPem: requiredField(tls.privateKeyPem, 'spec.staticTLSClientCertificate.privateKeyPem'),
        ...(caPem !== '' ? { caPem } : {}),
      };
      break;
    }
    case 'static_username_password': {
      const up = section(file.staticUsernamePassword, 'staticUsernamePassword', resolverKind);
      req.spec.staticUsernamePassword = {
        username: requiredField(up.username, 'spec.staticUsernamePassword.username'),
        password: requiredField(up.password, 'spec.staticUsernamePassword.password'),
      };
      break;
    }
  }
  return req;
}
