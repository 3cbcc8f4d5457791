import { describe, expect, it } from 'vitest';
import { api, useEmulator } from '../../helpers/emulator.js';
import { docsPolicy } from '../../helpers/docs-policy.js';
import { emulatorInternals } from '../../../src/internals.js';

/**
 * Tenants (`emulator.tenant()`, `POST /_emulator/tenants`): test files sharing one emulator each get a
 * team and token of their own, so the same names never collide and nobody sees another's state.
 */
const emu = useEmulator();

/** A sandbox with the docs' policy whose credential source `corp-proxy-source` holds `password`. */
async function docsSandbox(client: ReturnType<typeof api>, password: string) {
  const source = await client.post('/api/v1/credential-sources', {
    name: 'corp-proxy-source',
    resolverKind: 'static_username_password',
    spec: { staticUsernamePassword: { username: 'proxy-user', password } },
  });
  expect(source.status, source.text).toBe(201);
  const id = (await client.post('/api/v1/sandboxes', { template: 'default' })).json.data.sandbox_id as string;
  expect((await client.put(`/api/v1/sandboxes/${id}/network`, docsPolicy('corp-proxy-source'))).status).toBe(200);
  return id;
}

describe('tenants', () => {
  it('isolate sandboxes, credential sources, their resolution and flows; info and reset are the tenant’s own', async () => {
    const a = emu.current.tenant();
    const created = await api(() => emu.current).post('/_emulator/tenants');
    expect(created.status).toBe(201);
    const b = created.json.data as { teamId: string; token: string };
    expect(a.teamId).not.toBe(b.teamId);
    expect(a.token).toMatch(/^s0_local_[0-9a-f]{48}$/);
    const [ca, cb, root] = [api(() => emu.current, a.token), api(() => emu.current, b.token), api(() => emu.current)];

    // The same source name in both: no "credential source already exists". B's password is wrong.
    const idA = await docsSandbox(ca, 'proxy-pass');
    const idB = await docsSandbox(cb, 'wrong-pass');
    expect((await ca.get('/api/v1/sandboxes')).json.data.count).toBe(1);
    expect((await cb.get('/api/v1/sandboxes')).json.data.sandboxes.map((s: { id: string }) => s.id)).toEqual([idB]);
    expect((await root.get('/api/v1/sandboxes')).json.data.count).toBe(0);
    expect((await ca.get(`/api/v1/sandboxes/${idB}`)).status).toBe(403);
    expect((await ca.post(`/_emulator/sandboxes/${idB}/evaluate`, { host: 'api.internal.example.com', port: 443 })).status).toBe(403);
    expect((await ca.get(`/api/v1/sandboxes/${idA}`)).json.data.team_id).toBe(a.teamId);

    // The gateway resolves each sandbox's binding in its own team: A's flow authenticates, B's does not.
    const probe = { host: 'api.internal.example.com', port: 443, send: 'tls-client-hello' };
    const pa = await ca.post(`/_emulator/sandboxes/${idA}/probe`, probe);
    expect(pa.json.data).toMatchObject({ outcome: 'completed', proxySaw: { user: 'proxy-user', host: 'api.internal.example.com' } });
    const pb = await cb.post(`/_emulator/sandboxes/${idB}/probe`, probe);
    expect(pb.json.data.outcome).toBe('error');
    await emulatorInternals(emu.current).audit.flush();

    const flowsA = (await ca.get('/_emulator/flows?limit=1000')).json.data.events as { sandbox_id: string; team_id: string }[];
    expect(flowsA.length).toBeGreaterThan(0);
    expect(new Set(flowsA.map((e) => e.sandbox_id))).toEqual(new Set([idA]));
    expect(new Set(flowsA.map((e) => e.team_id))).toEqual(new Set([a.teamId]));
    // The emulator's own token sees every team's flows.
    const all = (await root.get('/_emulator/flows?limit=1000')).json.data.events as { sandbox_id: string }[];
    expect(new Set(all.map((e) => e.sandbox_id))).toEqual(new Set([idA, idB]));

    const infoA = (await ca.get('/_emulator/info')).json.data;
    expect(infoA).toMatchObject({ token: a.token, teamId: a.teamId });
    expect(JSON.stringify(infoA)).not.toContain(emu.current.token);
    expect((await ca.post('/_emulator/tenants')).status).toBe(403);

    // A tenant's reset empties the tenant only.
    expect((await ca.post('/_emulator/reset')).status).toBe(200);
    expect((await ca.get('/api/v1/sandboxes')).json.data.count).toBe(0);
    expect((await ca.get('/api/v1/credential-sources')).json.data).toEqual([]);
    expect((await ca.get('/_emulator/flows')).json.data.events).toEqual([]);
    expect((await cb.get('/api/v1/sandboxes')).json.data.count).toBe(1);
    expect((await cb.get('/api/v1/credential-sources')).json.data).toHaveLength(1);
    expect(((await root.get('/_emulator/flows?limit=1000')).json.data.events as { sandbox_id: string }[]).every((e) => e.sandbox_id === idB)).toBe(true);
  });

  it('a tenant token that was never issued is refused like any other', async () => {
    const stranger = api(() => emu.current, 's0_local_' + 'cd'.repeat(24));
    expect((await stranger.get('/api/v1/sandboxes')).json.error.message).toBe('invalid api key');
  });
});
