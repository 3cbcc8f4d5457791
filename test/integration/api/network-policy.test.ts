import { beforeEach, describe, expect, it } from 'vitest';
import { api, useEmulator } from '../../helpers/emulator.js';
import { emulatorInternals } from '../../../src/internals.js';

/** PUT/GET network semantics of reference §1.4: merge, bindings, pinning, omitempty. */
const emu = useEmulator();
const client = api(() => emu.current);

const upBinding = (ref: string, sourceRef: string) => ({ ref, sourceRef, projection: { type: 'username_password', usernamePassword: {} } });
const claim = async (template = 'default', config?: unknown) => {
  const res = await client.post('/api/v1/sandboxes', { template, ...(config ? { config } : {}) });
  expect(res.status).toBe(201);
  return res.json.data.sandbox_id as string;
};
const source = async (name: string, password = 'pw') => {
  const res = await client.post('/api/v1/credential-sources', { name, resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'u', password } } });
  expect(res.status).toBe(201);
};

beforeEach(async () => {
  await emu.current.reset();
});

describe('GET /network', () => {
  it('returns {"mode":"allow-all"} for a sandbox with no policy', async () => {
    const id = await claim();
    expect((await client.get(`/api/v1/sandboxes/${id}/network`)).json).toEqual({ success: true, data: { mode: 'allow-all' } });
  });

  it('returns the template policy for a sandbox of a template with one', async () => {
    const id = await claim('locked-down');
    const res = await client.get(`/api/v1/sandboxes/${id}/network`);
    expect(res.json.data.mode).toBe('block-all');
    expect(res.json.data.egress.trafficRules.map((r: { name: string }) => r.name)).toEqual(['allow-internal-api']);
  });

  it('404s for an unknown sandbox', async () => {
    const res = await client.get('/api/v1/sandboxes/sb-nope/network');
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('not_found');
  });
});

describe('PUT /network', () => {
  it('merges with the template by rule name: same name replaces in place, unnamed appends', async () => {
    const id = await claim('locked-down');
    const res = await client.put(`/api/v1/sandboxes/${id}/network`, {
      mode: 'block-all',
      egress: {
        trafficRules: [
          { action: 'allow', domains: ['extra.example.com'] },
          { name: 'allow-internal-api', action: 'deny', domains: ['api.internal.example.com'] },
        ],
      },
    });
    expect(res.status).toBe(200);
    expect(res.json.data.egress.trafficRules).toEqual([
      { name: 'allow-internal-api', action: 'deny', domains: ['api.internal.example.com'] },
      { action: 'allow', domains: ['extra.example.com'] },
    ]);
  });

  it('replaces the previous sandbox-level policy instead of merging with it', async () => {
    const id = await claim();
    await client.put(`/api/v1/sandboxes/${id}/network`, { mode: 'allow-all', egress: { deniedDomains: ['a.example.com'] } });
    const res = await client.put(`/api/v1/sandboxes/${id}/network`, { mode: 'allow-all', egress: { deniedDomains: ['b.example.com'] } });
    expect(res.json.data.egress).toEqual({ deniedDomains: ['b.example.com'] });
  });

  it('keeps stored bindings when credentialBindings is omitted, clears them on []', async () => {
    await source('s1');
    const id = await claim();
    const policy = { mode: 'block-all', egress: { proxy: { type: 'socks5', address: 'proxy.example.com:1080', credentialRef: 'corp' } } };
    const first = await client.put(`/api/v1/sandboxes/${id}/network`, { ...policy, credentialBindings: [upBinding('corp', 's1')] });
    expect(first.status).toBe(200);

    // Omitted: the stored binding is kept and still satisfies the proxy's credentialRef.
    const kept = await client.put(`/api/v1/sandboxes/${id}/network`, policy);
    expect(kept.status).toBe(200);
    expect(kept.json.data.credentialBindings).toEqual([upBinding('corp', 's1')]);
    expect((await client.get(`/api/v1/sandboxes/${id}/network`)).json.data.credentialBindings).toEqual([upBinding('corp', 's1')]);

    // []: cleared, so the proxy credentialRef no longer resolves.
    const cleared = await client.put(`/api/v1/sandboxes/${id}/network`, { ...policy, credentialBindings: [] });
    expect(cleared.status).toBe(400);
    expect(cleared.json.error.message).toBe('update pod annotations: invalid network policy: egress proxy credentialRef "corp" not found');
    const allowAll = await client.put(`/api/v1/sandboxes/${id}/network`, { mode: 'allow-all', credentialBindings: [] });
    expect(allowAll.status).toBe(200);
    expect(allowAll.json.data).toEqual({ mode: 'allow-all' });
  });

  it('returns bindings as submitted on PUT, sorted by ref on GET', async () => {
    await source('s1');
    const id = await claim();
    const put = await client.put(`/api/v1/sandboxes/${id}/network`, { mode: 'allow-all', credentialBindings: [upBinding('zeta', 's1'), upBinding('alpha', 's1')] });
    expect(put.json.data.credentialBindings.map((b: { ref: string }) => b.ref)).toEqual(['zeta', 'alpha']);
    const get = await client.get(`/api/v1/sandboxes/${id}/network`);
    expect(get.json.data.credentialBindings.map((b: { ref: string }) => b.ref)).toEqual(['alpha', 'zeta']);
  });

  it('pins bindings to the source version current at PUT time and re-pins on rotation', async () => {
    await source('s1');
    const id = await claim();
    await client.put(`/api/v1/sandboxes/${id}/network`, { mode: 'allow-all', credentialBindings: [upBinding('corp', 's1')] });
    expect(emulatorInternals(emu.current).store.bindings.forSandbox(id).map((b) => b.sourceVersion)).toEqual([1]);
    const rotated = await client.put('/api/v1/credential-sources/s1', { name: 's1', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'u', password: 'new' } } });
    expect(rotated.json.data.currentVersion).toBe(2);
    expect(emulatorInternals(emu.current).store.bindings.forSandbox(id).map((b) => b.sourceVersion)).toEqual([2]);
  });

  it('leaves empty fields out (omitempty) and drops an empty egress', async () => {
    const id = await claim();
    const res = await client.put(`/api/v1/sandboxes/${id}/network`, {
      mode: 'block-all',
      egress: { allowedCidrs: [], trafficRules: [{ name: '', action: 'allow', cidrs: ['198.18.0.0/15'], domains: [], ports: [{ port: 443, protocol: '' }] }] },
    });
    expect(res.json.data).toEqual({ mode: 'block-all', egress: { trafficRules: [{ action: 'allow', cidrs: ['198.18.0.0/15'], ports: [{ port: 443 }] }] } });
    const empty = await client.put(`/api/v1/sandboxes/${id}/network`, { mode: 'block-all', egress: { allowedDomains: [] } });
    expect(empty.json.data).toEqual({ mode: 'block-all' });
  });

  it('warns in a header when a policy uses fields the emulator stores but does not enforce', async () => {
    const id = await claim();
    const res = await client.put(`/api/v1/sandboxes/${id}/network`, { mode: 'allow-all', egress: { protocolRules: [{ name: 'p', protocol: 'http', http: { methods: { denied: ['DELETE'] } } }] } });
    expect(res.status).toBe(200);
    expect(res.headers.get('warning')).toContain('protocolRules');
    const plain = await client.put(`/api/v1/sandboxes/${id}/network`, { mode: 'allow-all' });
    expect(plain.headers.get('warning')).toBeNull();
  });
});

describe('claim with a network policy (not strictly validated)', () => {
  it('drops invalid traffic rules instead of failing the claim', async () => {
    const id = await claim('default', { network: { mode: 'block-all', egress: { trafficRules: [{ name: 'bad', action: 'maybe', domains: ['x.example.com'] }] } } });
    const res = await client.get(`/api/v1/sandboxes/${id}/network`);
    expect(res.json.data).toEqual({ mode: 'block-all' });
  });

  it('drops bindings whose credential validation fails and keeps the rest', async () => {
    const id = await claim('default', {
      network: { mode: 'block-all', egress: { allowedDomains: ['ok.example.com'], proxy: { type: 'socks5', address: 'p:1080', credentialRef: 'missing' } } },
    });
    const res = await client.get(`/api/v1/sandboxes/${id}/network`);
    expect(res.json.data.egress.allowedDomains).toEqual(['ok.example.com']);
    expect(res.json.data.credentialBindings).toBeUndefined();
  });

  it('stores valid bindings from the claim pinned to the current version', async () => {
    await source('s1');
    const id = await claim('default', { network: { mode: 'allow-all', credentialBindings: [upBinding('corp', 's1')] } });
    expect((await client.get(`/api/v1/sandboxes/${id}/network`)).json.data.credentialBindings).toEqual([upBinding('corp', 's1')]);
  });

  it('needs a template, and a known one', async () => {
    const missing = await client.post('/api/v1/sandboxes', {});
    expect(missing.status).toBe(400);
    expect(missing.json.error.message).toBe('template is required');
    const unknown = await client.post('/api/v1/sandboxes', { template: 'no-such-template' });
    expect(unknown.status).toBe(404);
  });
});

describe('sandbox list', () => {
  it('filters and pages with has_more', async () => {
    for (let i = 0; i < 3; i++) await claim();
    await claim('locked-down');
    const page = await client.get('/api/v1/sandboxes?limit=2&offset=0');
    expect(page.json.data.count).toBe(4);
    expect(page.json.data.sandboxes).toHaveLength(2);
    expect(page.json.data.has_more).toBe(true);
    const last = await client.get('/api/v1/sandboxes?limit=2&offset=2');
    expect(last.json.data.has_more).toBe(false);
    const byTemplate = await client.get('/api/v1/sandboxes?template_id=locked-down');
    expect(byTemplate.json.data.count).toBe(1);
    expect((await client.get('/api/v1/sandboxes?status=running')).json.data.count).toBe(4);
    expect((await client.get('/api/v1/sandboxes?paused=true')).json.data.count).toBe(0);
    for (const bad of ['limit=0', 'limit=201', 'limit=x', 'offset=-1', 'status=sleeping', 'paused=maybe']) {
      const res = await client.get(`/api/v1/sandboxes?${bad}`);
      expect(res.status, bad).toBe(400);
      expect(res.json.error.code).toBe('bad_request');
    }
  });

  it('deletes a sandbox with upstream\'s message, and its bindings with it', async () => {
    await source('s1');
    const id = await claim('default', { network: { mode: 'allow-all', credentialBindings: [upBinding('corp', 's1')] } });
    const res = await client.delete(`/api/v1/sandboxes/${id}`);
    expect(res.json).toEqual({ success: true, data: { message: 'sandbox terminated successfully' } });
    expect((await client.delete('/api/v1/credential-sources/s1')).json).toEqual({ success: true, data: { deleted: true } });
    expect((await client.delete(`/api/v1/sandboxes/${id}`)).status).toBe(404);
  });
});
