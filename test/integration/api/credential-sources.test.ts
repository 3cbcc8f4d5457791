import { beforeEach, describe, expect, it } from 'vitest';
import { api, useEmulator } from '../../helpers/emulator.js';

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
  { name: 'external ref', body: { ...up('s'), externalRef: 'vault://x' }, message: 'credential source externalRef is configured by the platform' },
  { name: 'headers without spec', body: { name: 's', resolverKind: 'static_headers', spec: {} }, message: 'static_headers spec is required' },
  { name: 'username/password without spec', body: { name: 's', resolverKind: 'static_username_password', spec: {} }, message: 'static_username_password spec is required' },
  { name: 'blank username', body: up('s', '  ', 'p'), message: 'static_username_password username is required' },
  { name: 'blank password', body: up('s', 'u', ' '), message: 'static_username_password password is required' },
  { name: 'tls without spec', body: { name: 's', resolverKind: 'static_tls_client_certificate', spec: {} }, message: 'static_tls_client_certificate spec is required' },
  { name: 'tls without key', body: { name: 's', resolverKind: 'static_tls_client_certificate', spec: { staticTLSClientCertificate: { certificatePem: 'x' } } }, message: 'static_tls_client_certificate privateKeyPem is required' },
  { name: 'ssh without key', body: { name: 's', resolverKind: 'static_ssh_private_key', spec: { staticSSHPrivateKey: {} } }, message: 'static_ssh_private_key privateKeyPem is required' },
  { name: 'unknown kind', body: { name: 's', resolverKind: 'static_oauth', spec: {} }, message: 'credential source resolver_kind "static_oauth" is not supported' },
];

describe('credential sources', () => {
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
    const store = emu.current.store;
    expect(store.credentialSources.spec('team-local', 'corp', 1)).toBeUndefined();
    expect(store.credentialSources.spec('team-local', 'corp', 2)?.staticUsernamePassword?.password).toBe('v2-pass');
  });
});
