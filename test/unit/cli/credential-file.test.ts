import { describe, expect, it } from 'vitest';
import { parseCredentialSourceFile } from '../../../src/cli/s0/credential-file.js';

describe('credential source file (s0 credential create|update -f)', () => {
  it('reads YAML and JSON, trims, and keeps only the chosen kind', async () => {
    await expect(
      parseCredentialSourceFile(`name: " corp-proxy-source "
resolverKind: static_username_password
spec:
  staticUsernamePassword:
    username: " proxy-user "
    password: proxy-pass
  staticHeaders:
    values: {x: y}
extra: ignored
`),
    ).resolves.toEqual({ name: 'corp-proxy-source', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'proxy-user', password: 'proxy-pass' } } });
    await expect(parseCredentialSourceFile('{"name":"gh","resolverKind":"static_headers","spec":{"staticHeaders":{"values":{"Authorization":"Bearer x","X-Num":7}}}}')).resolves.toEqual({
      name: 'gh',
      resolverKind: 'static_headers',
      spec: { staticHeaders: { values: { Authorization: 'Bearer x', 'X-Num': '7' } } },
    });
    await expect(
      parseCredentialSourceFile('name: mtls\nresolverKind: static_tls_client_certificate\nspec:\n  staticTLSClientCertificate:\n    certificatePem: C\n    privateKeyPem: K\n'),
    ).resolves.toEqual({ name: 'mtls', resolverKind: 'static_tls_client_certificate', spec: { staticTLSClientCertificate: { certificatePem: 'C', privateKeyPem: 'K' } } });
  });

  it('turns scalars in string fields into strings, as ghodss/yaml does', async () => {
    await expect(parseCredentialSourceFile('name: 123\nresolverKind: static_username_password\nspec: {staticUsernamePassword: {username: 42, password: true}}')).resolves.toMatchObject({
      name: '123',
      spec: { staticUsernamePassword: { username: '42', password: 'true' } },
    });
  });

  it.each([
    ['resolverKind: static_headers', 'credential source name is required'],
    ['name: "  "\nresolverKind: static_headers', 'credential source name is required'],
    ['name: k\nresolverKind: static_ssh_private_key', 'invalid resolverKind "static_ssh_private_key", must be one of: static_headers, static_tls_client_certificate, static_username_password'],
    ['name: k', 'invalid resolverKind "", must be one of: static_headers, static_tls_client_certificate, static_username_password'],
    ['name: k\nresolverKind: static_headers', 'spec.staticHeaders is required for resolverKind "static_headers"'],
    ['name: k\nresolverKind: static_username_password\nspec: {}', 'spec.staticUsernamePassword is required for resolverKind "static_username_password"'],
    ['name: k\nresolverKind: static_username_password\nspec: {staticUsernamePassword: {password: p}}', 'spec.staticUsernamePassword.username is required'],
    ['name: k\nresolverKind: static_username_password\nspec: {staticUsernamePassword: {username: u, password: "  "}}', 'spec.staticUsernamePassword.password is required'],
    ['name: k\nresolverKind: static_tls_client_certificate\nspec: {staticTLSClientCertificate: {privateKeyPem: K}}', 'spec.staticTLSClientCertificate.certificatePem is required'],
    ['name: k\nresolverKind: static_tls_client_certificate\nspec: {staticTLSClientCertificate: {certificatePem: C}}', 'spec.staticTLSClientCertificate.privateKeyPem is required'],
    ['- a\n- b', 'parse spec file: error unmarshaling JSON: json: cannot unmarshal array into Go value of type commands.credentialSourceWriteRequestFile'],
    ['name: [a]', 'parse spec file: error unmarshaling JSON: json: cannot unmarshal array into Go struct field credentialSourceWriteRequestFile.name of type string'],
  ])('rejects %j', async (text, message) => {
    await expect(parseCredentialSourceFile(text)).rejects.toThrow(message);
  });

  it('reports YAML syntax errors under parse spec file', async () => {
    await expect(parseCredentialSourceFile('name: [unclosed')).rejects.toThrow(/^parse spec file: error converting YAML to JSON: yaml: /);
  });
});
