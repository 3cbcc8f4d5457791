import { APIError, Client } from 'sandbox0';
import { beforeEach, describe, expect, it } from 'vitest';
import { useEmulator } from '../../helpers/emulator.js';
import { docsPolicy } from '../../helpers/docs-policy.js';

/**
 * The contract: the official `sandbox0` SDK, unchanged, against the emulator. The policy is the
 * Sandbox0 egress-proxy docs' example, verbatim.
 */
const emu = useEmulator();
const client = () => new Client({ token: emu.current.token, baseUrl: emu.current.apiUrl });

async function apiError(p: Promise<unknown>): Promise<APIError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(APIError);
  return err as APIError;
}

describe('official sandbox0 SDK against the emulator', () => {
  beforeEach(async () => {
    await emu.current.reset();
  });

  it('runs the docs example end to end: source, claim, proxy policy, read back, list, delete', async () => {
    const c = client();
    const source = await c.credentialSources.create({
      name: 'corp-proxy-source',
      resolverKind: 'static_username_password',
      spec: { staticUsernamePassword: { username: 'proxy-user', password: 'proxy-pass' } },
    });
    expect(source).toMatchObject({ name: 'corp-proxy-source', resolverKind: 'static_username_password', currentVersion: 1, status: 'active' });
    expect(JSON.stringify(source)).not.toContain('proxy-pass');

    const sandbox = await c.sandboxes.claim('default');
    expect(sandbox.id).toMatch(/^sb-/);

    const updated = await sandbox.updateNetworkPolicy(docsPolicy(source.name));
    expect(updated.mode).toBe('block-all');
    expect(updated.egress?.proxy).toEqual({ type: 'socks5', address: 'proxy.example.com:1080', credentialRef: 'corp-proxy' });
    expect(updated.egress?.trafficRules?.[0]).toMatchObject({ name: 'allow-private-api', action: 'allow', domains: ['api.internal.example.com'] });
    expect(updated.credentialBindings).toEqual([
      { ref: 'corp-proxy', sourceRef: 'corp-proxy-source', projection: { type: 'username_password', usernamePassword: {} } },
    ]);

    const readBack = await sandbox.getNetworkPolicy();
    expect(readBack).toEqual(updated);

    const got = await c.sandboxes.get(sandbox.id);
    expect(got.id).toBe(sandbox.id);
    expect(got.templateId).toBe('default');
    expect(got.status).toBe('running');

    const listed = await c.sandboxes.list();
    expect(listed.sandboxes.map((s) => s.id)).toContain(sandbox.id);
    expect(listed.count).toBe(1);
    expect(listed.hasMore).toBe(false);

    const sources = await c.credentialSources.list();
    expect(sources.map((s) => s.name)).toEqual(['corp-proxy-source']);

    // A bound source cannot be deleted; clearing the bindings frees it.
    expect((await apiError(c.credentialSources.delete('corp-proxy-source'))).statusCode).toBe(409);
    await sandbox.updateNetworkPolicy({ mode: 'allow-all', credentialBindings: [] });
    await c.credentialSources.delete('corp-proxy-source');
    expect(await c.credentialSources.list()).toEqual([]);

    await c.sandboxes.delete(sandbox.id);
    expect((await c.sandboxes.list()).count).toBe(0);
  });

  it('rotates a credential source: the version goes up, secrets stay write-only', async () => {
    const c = client();
    await c.credentialSources.create({
      name: 'rotating',
      resolverKind: 'static_username_password',
      spec: { staticUsernamePassword: { username: 'u1', password: 'first-secret' } },
    });
    const v2 = await c.credentialSources.update('rotating', {
      name: 'ignored-by-path',
      resolverKind: 'static_username_password',
      spec: { staticUsernamePassword: { username: 'u2', password: 'second-secret' } },
    });
    expect(v2.currentVersion).toBe(2);
    expect(v2.name).toBe('rotating');
    const got = await c.credentialSources.get('rotating');
    expect(got.currentVersion).toBe(2);
    expect(JSON.stringify(got)).not.toMatch(/secret|u1|u2/);
  });

  it('returns the upstream error for an unknown sandbox (404)', async () => {
    const err = await apiError(client().sandboxes.get('sb-does-not-exist'));
    expect(err.statusCode).toBe(404);
    expect(err.code).toBe('not_found');
    expect(err.message).toContain('sandbox not found');
  });

  it('rejects a bad mode with the upstream message (400)', async () => {
    const sandbox = await client().sandboxes.claim('default');
    const err = await apiError(sandbox.updateNetworkPolicy({ mode: 'deny-everything' as 'block-all' }));
    expect(err.statusCode).toBe(400);
    expect(err.code).toBe('bad_request');
    expect(err.message).toBe('mode must be "allow-all" or "block-all"');
  });

  it('rejects a duplicate credential source (409)', async () => {
    const c = client();
    const req = { name: 'dup', resolverKind: 'static_username_password' as const, spec: { staticUsernamePassword: { username: 'a', password: 'b' } } };
    await c.credentialSources.create(req);
    const err = await apiError(c.credentialSources.create(req));
    expect(err.statusCode).toBe(409);
    expect(err.message).toBe('credential source already exists');
  });

  it('refuses to delete a bound credential source (409)', async () => {
    const c = client();
    await c.credentialSources.create({ name: 'bound', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'a', password: 'b' } } });
    const sandbox = await c.sandboxes.claim('default');
    await sandbox.updateNetworkPolicy(docsPolicy('bound'));
    const err = await apiError(c.credentialSources.delete('bound'));
    expect(err.statusCode).toBe(409);
    expect(err.message).toBe('credential source is still referenced by sandbox bindings');
  });

  it('refuses a call without a valid token (401)', async () => {
    const noAuth = new Client({ token: '', baseUrl: emu.current.apiUrl });
    const missing = await apiError(noAuth.sandboxes.list());
    expect(missing.statusCode).toBe(401);
    expect(missing.message).toBe('missing authorization header');
    const wrong = new Client({ token: 's0_local_' + '00'.repeat(24), baseUrl: emu.current.apiUrl });
    const invalid = await apiError(wrong.sandboxes.list());
    expect(invalid.statusCode).toBe(401);
    expect(invalid.message).toBe('invalid api key');
  });
});
