import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeEach, describe, expect, it } from 'vitest';
import { api, useEmulator } from '../../helpers/emulator.js';
import { emulatorInternals } from '../../../src/internals.js';

/** Credential sources (reference §1.5): validation messages in upstream's order, versions, write-only secrets. */
const emu = useEmulator();
const client = api(() => emu.current);
const up = (name: string, username = 'u', password = 'p') => ({ name, resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username, password } } });

beforeEach(async () => {
  await emu.current.reset();
});

const createCases: { name: string; body: unknown; message: string }[] = [
  { name: 'no name', body: { ...up(''), name: '  ' }, message: 'credential source name is required' },
  { name: 'slash in name', body: up('a/b'), message: 'credential source name must not contain /' },
  { name: 'storage kind', body: { ...up('s'), storageKind: 'vault' }, message: 'credential source storage backend is configured by the platform' },
  { name: 'external ref (any object, even empty)', body: { ...up('s'), externalRef: {} }, message: 'credential source externalRef is configured by the platform' },
  { name: 'storage kind is trimmed', body: { ...up('s'), storageKind: ' ', externalRef: { provider: 'hashicorp_vault', path: 'x' } }, message: 'credential source externalRef is configured by the platform' },
  { name: 'headers without spec', body: { name: 's', resolverKind: 'static_headers', spec: {} }, message: 'static_headers spec is required' },
  { name: 'username/password without spec', body: { name: 's', resolverKind: 'static_username_password', spec: {} }, message: 'static_username_password spec is required' },
  { name: 'blank username', body: up('s', '  ', 'p'), message: 'static_username_password username is required' },
  { name: 'blank password', body: up('s', 'u', ' '), message: 'static_username_password password is required' },
  { name: 'tls without spec', body: { name: 's', resolverKind: 'static_tls_client_certificate', spec: {} }, message: 'static_tls_client_certificate spec is required' },
  { name: 'tls without key', body: { name: 's', resolverKind: 'static_tls_client_certificate', spec: { staticTLSClientCertificate: { certificatePem: 'x' } } }, message: 'static_tls_client_certificate privateKeyPem is required' },
  { name: 'ssh without key', body: { name: 's', resolverKind: 'static_ssh_private_key', spec: { staticSSHPrivateKey: {} } }, message: 'static_ssh_private_key privateKeyPem is required' },
  { name: 'unknown kind', body: { name: 's', resolverKind: 'static_oauth', spec: {} }, message: 'credential source resolver_kind "static_oauth" is not supported' },
];

const fixture = (name: string) => readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../../../fixtures/ca', name), 'utf8');
const tlsSource = (certificatePem: string, privateKeyPem: string, caPem?: string) => ({
  name: 'mtls',
  resolverKind: 'static_tls_client_certificate',
  spec: { staticTLSClientCertificate: { certificatePem, privateKeyPem, ...(caPem === undefined ? {} : { caPem }) } },
});

describe('credential sources', () => {
  // Texts as Go's tls.X509KeyPair / CertPool.AppendCertsFromPEM give them (checked against Go for these inputs).
  it.each([
    ['a key in the certificate field', () => tlsSource(fixture('api.internal.example.com.key'), fixture('api.internal.example.com.key')), 'static_tls_client_certificate keypair is invalid: tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched'],
    ['no PEM at all', () => tlsSource('not pem', fixture('api.internal.example.com.key')), 'static_tls_client_certificate keypair is invalid: tls: failed to find any PEM data in certificate input'],
    ['a certificate in the key field', () => tlsSource(fixture('api.internal.example.com.crt'), fixture('ca.crt')), 'static_tls_client_certificate keypair is invalid: tls: found a certificate rather than a key in the PEM for the private key'],
    ['a key of another pair', () => tlsSource(fixture('api.internal.example.com.crt'), fixture('ca.key')), 'static_tls_client_certificate keypair is invalid: tls: private key does not match public key'],
    ['an undecodable key', () => tlsSource(fixture('api.internal.example.com.crt'), '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'), 'static_tls_client_certificate keypair is invalid: tls: failed to parse private key'],
    ['a CA bundle without a certificate', () => tlsSource(fixture('api.internal.example.com.crt'), fixture('api.internal.example.com.key'), 'not a ca'), 'static_tls_client_certificate caPem is invalid'],
  ])('rejects TLS client certificate material as upstream: %s', async (_name, body, message) => {
    const res = await client.post('/api/v1/credential-sources', body());
    expect(res.status).toBe(400);
    expect(res.json.error).toEqual({ code: 'bad_request', message: `failed to create credential source: ${message}` });
  });

  const sshSource = (privateKeyPem: string, passphrase?: string) => ({
    name: 'git',
    resolverKind: 'static_ssh_private_key',
    spec: { staticSSHPrivateKey: { privateKeyPem, ...(passphrase === undefined ? {} : { passphrase }) } },
  });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
  const encryptedPkcs1 = rsa.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }) as string;
  const opensshEncrypted = (() => {
    const str = (s: string) => Buffer.concat([Buffer.from([0, 0, 0, s.length]), Buffer.from(s)]);
    const blob = Buffer.concat([Buffer.from('openssh-key-v1\0'), str('aes256-ctr'), str('bcrypt')]);
    return `-----BEGIN OPENSSH PRIVATE KEY-----\n${blob.toString('base64')}\n-----END OPENSSH PRIVATE KEY-----\n`;
  })();

  // Texts of golang.org/x/crypto/ssh (v0.47, upstream's go.mod) for what precedes parsing the key itself.
  it.each([
    ['no PEM block', () => sshSource('not a key'), 'ssh: no key found'],
    ['an unsupported block type', () => sshSource('-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n'), 'ssh: unsupported key type "FOO"'],
    ['an encrypted PKCS#8 key', () => sshSource(rsa.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }) as string), 'ssh: unsupported key type "ENCRYPTED PRIVATE KEY"'],
    ['an encrypted PEM key without a passphrase', () => sshSource(encryptedPkcs1), 'ssh: this private key is passphrase protected'],
    ['an encrypted OpenSSH key without a passphrase', () => sshSource(opensshEncrypted), 'ssh: this private key is passphrase protected'],
    ['a passphrase for a key that is not encrypted', () => sshSource(rsa.export({ type: 'pkcs1', format: 'pem' }) as string, 'pw'), 'ssh: not an encrypted key'],
  ])('rejects SSH private keys as upstream: %s', async (_name, body, message) => {
    const res = await client.post('/api/v1/credential-sources', body());
    expect(res.status).toBe(400);
    expect(res.json.error).toEqual({ code: 'bad_request', message: `failed to create credential source: static_ssh_private_key privateKeyPem is invalid: ${message}` });
  });

  it('accepts an SSH key, and an encrypted one with its passphrase', async () => {
    expect((await client.post('/api/v1/credential-sources', sshSource(rsa.export({ type: 'pkcs8', format: 'pem' }) as string))).status).toBe(201);
    expect((await client.post('/api/v1/credential-sources', { ...sshSource(encryptedPkcs1, 'pw'), name: 'git2' })).status).toBe(201);
  });

  it('accepts a matching certificate and key with a CA bundle', async () => {
    const res = await client.post('/api/v1/credential-sources', tlsSource(fixture('api.internal.example.com.crt'), fixture('api.internal.example.com.key'), `\n${fixture('ca.crt')}\n`));
    expect(res.status).toBe(201);
  });

  it('decodes the write request as Go does: externalRef is an object (upstream egressauthstore types)', async () => {
    const res = await client.post('/api/v1/credential-sources', { ...up('s'), externalRef: 'vault://x' });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toBe(
      'invalid request: json: cannot unmarshal string into Go struct field CredentialSourceWriteRequest.externalRef of type egressauthstore.CredentialSourceExternalRefSpec',
    );
    const values = await client.post('/api/v1/credential-sources', { name: 's', resolverKind: 'static_headers', spec: { staticHeaders: { values: { token: 5 } } } });
    expect(values.json.error.message).toBe(
      'invalid request: json: cannot unmarshal number into Go struct field StaticHeadersSourceSpec.spec.staticHeaders.values of type string',
    );
  });

  it.each(createCases)('create rejects: $name', async ({ body, message }) => {
    const res = await client.post('/api/v1/credential-sources', body);
    expect(res.status).toBe(400);
    expect(res.json.error).toEqual({ code: 'bad_request', message: `failed to create credential source: ${message}` });
  });

  it('creates at version 1 and never returns a secret', async () => {
    const res = await client.post('/api/v1/credential-sources', up('corp', 'alice', 'hunter2-secret'));
    expect(res.status).toBe(201);
    expect(res.json.data).toMatchObject({ name: 'corp', resolverKind: 'static_username_password', currentVersion: 1, status: 'active' });
    expect(Object.keys(res.json.data).sort()).toEqual(['createdAt', 'currentVersion', 'name', 'resolverKind', 'status', 'updatedAt']);
    for (const path of ['/api/v1/credential-sources', '/api/v1/credential-sources/corp']) {
      const text = (await client.get(path)).text;
      expect(text).not.toContain('hunter2-secret');
      expect(text).not.toContain('alice');
    }
  });

  it('lists sorted by name, [] when empty', async () => {
    expect((await client.get('/api/v1/credential-sources')).json).toEqual({ success: true, data: [] });
    await client.post('/api/v1/credential-sources', up('b'));
    await client.post('/api/v1/credential-sources', up('a'));
    expect((await client.get('/api/v1/credential-sources')).json.data.map((s: { name: string }) => s.name)).toEqual(['a', 'b']);
  });

  it('updates: path name wins, version +1, kind immutable, 404 for unknown, validation wrapped', async () => {
    await client.post('/api/v1/credential-sources', up('corp'));
    const updated = await client.put('/api/v1/credential-sources/corp', up('other-name', 'u', 'p2'));
    expect(updated.status).toBe(200);
    expect(updated.json.data).toMatchObject({ name: 'corp', currentVersion: 2 });
    expect((await client.get('/api/v1/credential-sources/other-name')).status).toBe(404);

    const kind = await client.put('/api/v1/credential-sources/corp', { name: 'corp', resolverKind: 'static_headers', spec: { staticHeaders: { values: { a: 'b' } } } });
    expect(kind.status).toBe(400);
    expect(kind.json.error.message).toBe('failed to update credential source: credential source resolver_kind is immutable');

    const invalid = await client.put('/api/v1/credential-sources/corp', up('corp', 'u', ''));
    expect(invalid.status).toBe(400);
    expect(invalid.json.error.message).toBe('failed to update credential source: static_username_password password is required');

    const unknown = await client.put('/api/v1/credential-sources/ghost', up('ghost'));
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toEqual({ code: 'not_found', message: 'credential source not found' });
  });

  it('deletes even a name that does not exist (200 {deleted:true})', async () => {
    expect((await client.delete('/api/v1/credential-sources/never-existed')).json).toEqual({ success: true, data: { deleted: true } });
  });

  it('keeps the current version decryptable and drops one nothing pins (issue 16, finding 10)', async () => {
    await client.post('/api/v1/credential-sources', up('corp', 'u', 'v1-pass'));
    await client.put('/api/v1/credential-sources/corp', up('corp', 'u', 'v2-pass'));
    const store = emulatorInternals(emu.current).store;
    expect(store.credentialSources.spec('team-local', 'corp', 1)).toBeUndefined();
    expect(store.credentialSources.spec('team-local', 'corp', 2)?.staticUsernamePassword?.password).toBe('v2-pass');
  });
});
