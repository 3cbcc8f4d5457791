import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AdminApiError, adminClient, adminData, startEmulator, type AdminClient, type Emulator } from '../../../src/index.js';
import { createDocsSandbox } from '../../helpers/docs-policy.js';
import { api, waitForEvent } from '../../helpers/emulator.js';

/**
 * The typed admin client (hono's `hc` over the admin routes' own types), against a real emulator
 * started through the library: real values back from info, health, reset, sandbox views, evaluate,
 * probe, the proxy's connection log and faults, and flows.
 */
let emu: Emulator;
let admin: AdminClient;
const raw = api(() => emu);

beforeAll(async () => {
  emu = await startEmulator({ port: 0, token: 's0_local_' + 'cd'.repeat(24) });
  admin = adminClient(emu.apiUrl, emu.token);
});
afterAll(async () => {
  await emu?.stop();
});
beforeEach(async () => {
  await adminData(admin.reset.$post());
});

describe('typed admin client', () => {
  it('reads health and info, and the JSON is what the API sends', async () => {
    const health = await admin.health.$get();
    expect(health.status).toBe(200);
    const healthBody = await health.json();
    expect(healthBody).toEqual({ success: true, data: { status: 'ok', components: { api: 'up', store: 'up', gateway: 'up', testProxy: 'up', dns: 'up' } } });

    const info = await adminData(admin.info.$get());
    expect(info.apiUrl).toBe(emu.apiUrl);
    expect(info.token).toBe(emu.token);
    expect(info.ports.api).toBe(emu.port);
    expect(info.interception.mode).toBe('explicit');
    expect(info.testProxy?.address).toBe(emu.proxy!.address);
    expect(info.ephemeral).toBe(true);
    expect(info.dataDir).toBeNull();
    expect(info).toEqual((await raw.get('/_emulator/info')).json.data);
    // The emulator object carries a client of its own.
    expect(await adminData(emu.admin.info.$get())).toEqual(info);
  });

  it('reads a sandbox view, sets hosts entries and evaluates flows', async () => {
    const id = await createDocsSandbox(raw);
    const view = await adminData(admin.sandboxes[':id'].$get({ param: { id } }));
    expect(view?.interception).toBe('explicit');
    expect(view?.ingress?.socks5).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(view?.hosts).toEqual({});

    const hosts = await adminData(admin.sandboxes[':id'].hosts.$put({ param: { id }, json: { hosts: { 'db.corp.example.com': ['198.18.0.20'] } } }));
    expect(hosts.hosts).toEqual({ 'db.corp.example.com': ['198.18.0.20'] });
    expect((await adminData(emu.admin.sandboxes[':id'].$get({ param: { id } })))?.hosts).toEqual(hosts.hosts);

    const allowed = await adminData(admin.sandboxes[':id'].evaluate.$post({ param: { id }, json: { host: 'api.internal.example.com', port: 443 } }));
    expect(allowed.flowStarts).toBe(true);
    if (!allowed.flowStarts) throw new Error('expected a flow');
    expect(allowed).toMatchObject({ action: 'use-adapter', matchedRule: 'allow-private-api', route: 'proxy', proxyTarget: { atyp: 'domain', host: 'api.internal.example.com', port: 443 } });
    expect(allowed.destination).toEqual({ ip: '198.18.0.10', port: 443, resolvedFrom: 'api.internal.example.com' });

    const unresolved = await adminData(admin.sandboxes[':id'].evaluate.$post({ param: { id }, json: { host: 'nx.corp.example.com', port: 443 } }));
    expect(unresolved).toMatchObject({ flowStarts: false, reason: 'sandbox_resolution_failed', host: 'nx.corp.example.com' });
    // `action` is on every result, so a script reads it without narrowing on flowStarts.
    const action: 'deny' | 'pass-through' | 'use-adapter' = unresolved.action;
    expect(action).toBe('deny');
  });

  it('turns error envelopes into AdminApiError, with the status, code and message sent', async () => {
    const id = await createDocsSandbox(raw);
    const missing = await admin.sandboxes[':id'].evaluate.$post({ param: { id }, json: { port: 443 } });
    expect(missing.status).toBe(400);
    const body = await missing.json();
    expect(body.success).toBe(false);
    if (body.success) throw new Error('expected an error envelope');
    expect(body.error).toEqual({ code: 'bad_request', message: 'body: host or ip is required' });

    const unknown = adminData(admin.sandboxes[':id'].evaluate.$post({ param: { id: 'sb-nope' }, json: { host: 'x', port: 1 } }));
    await expect(unknown).rejects.toBeInstanceOf(AdminApiError);
    await expect(unknown).rejects.toMatchObject({ status: 404, code: 'not_found' });

    const wrongToken = adminClient(emu.apiUrl, 's0_local_' + '0'.repeat(48));
    await expect(adminData(wrongToken.info.$get())).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
  });

  it('probes through the test proxy, then reads its connection log and the flows', async () => {
    const id = await createDocsSandbox(raw);
    const probe = await adminData(admin.sandboxes[':id'].probe.$post({ param: { id }, json: { host: 'api.internal.example.com', port: 443, send: 'tls-client-hello' } }));
    expect(probe.outcome).toBe('completed');
    expect(probe.proxySaw).toMatchObject({ atyp: 'domain', host: 'api.internal.example.com', port: 443, user: 'proxy-user', replyCode: 0 });

    const { connections } = await adminData(admin.proxy.connections.$get({ query: { user: 'proxy-user', atyp: 'domain' } }));
    expect(connections.length).toBe(1);
    expect(connections[0]).toMatchObject({ user: 'proxy-user', atyp: 'domain', host: 'api.internal.example.com', port: 443, replyCode: 0, auth: 'accepted' });
    expect((await adminData(admin.proxy.connections.$get({ query: { host: 'elsewhere.example.com' } }))).connections).toEqual([]);
    await expect(adminData(admin.proxy.connections.$get({ query: { limit: '0' } }))).rejects.toMatchObject({ status: 400, code: 'bad_request' });

    await waitForEvent(emu, (e) => e.sandbox_id === id && e.phase === 'result');
    const flows = await adminData(admin.flows.$get({ query: { sandbox: id } }));
    const result = flows.events.find((e) => e.phase === 'result');
    expect(result?.attributes).toMatchObject({ host: 'api.internal.example.com', dest_port: 443, route: 'proxy', proxy_target: 'api.internal.example.com:443' });
    expect(flows.watermark).toEqual(expect.any(String));
    expect((await adminData(admin.flows.$get({ query: { sandbox: 'sb-other' } }))).events).toEqual([]);
  });

  it('adds and removes faults, and reset returns to a clean state', async () => {
    const add = await admin.proxy.faults.$post({ json: { name: 'refuse', type: 'reply_code', attributes: { code: 2 } } });
    expect(add.status).toBe(201);
    const fault = await adminData(add);
    expect(fault).toEqual({ name: 'refuse', type: 'reply_code', toxicity: 1, attributes: { code: 2 }, match: {} });
    expect((await adminData(admin.proxy.faults.$get())).faults.map((f) => f.name)).toEqual(['refuse']);
    await expect(adminData(admin.proxy.faults.$post({ json: { name: 'refuse', type: 'reply_code', attributes: { code: 2 } } }))).rejects.toMatchObject({ status: 409 });
    expect((await adminData(admin.proxy.faults[':name'].$delete({ param: { name: 'refuse' } }))).faults).toEqual([]);

    const id = await createDocsSandbox(raw);
    await adminData(admin.proxy.faults.$post({ json: { type: 'reject_domain_atyp' } }));
    const reset = await adminData(admin.reset.$post());
    expect(reset).toEqual({ reset: true });
    await expect(adminData(admin.sandboxes[':id'].$get({ param: { id } }))).rejects.toMatchObject({ status: 404, code: 'not_found' });
    expect((await adminData(admin.proxy.faults.$get())).faults).toEqual([]);
    expect((await adminData(admin.proxy.connections.$get({ query: {} }))).connections).toEqual([]);
  });
});
