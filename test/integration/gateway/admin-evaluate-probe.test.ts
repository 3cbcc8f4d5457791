import { beforeEach, describe, expect, it } from 'vitest';
import { api, useEmulator } from '../../helpers/emulator.js';
import { httpsGet } from '../../helpers/sandbox-client.js';
import { createDocsSandbox } from '../../helpers/docs-policy.js';

/** The admin API's dry run (evaluate), real probes, DNS views, sandbox views and in-process connect. */
const emu = useEmulator();
const client = api(() => emu.current);

const docsSandbox = () => createDocsSandbox(client);

beforeEach(async () => {
  await emu.current.reset();
});

describe('POST /_emulator/sandboxes/{id}/evaluate', () => {
  it('reports the decision, the rule, the route and the exact SOCKS5 target', async () => {
    const id = await docsSandbox();
    const allowed = await client.post(`/_emulator/sandboxes/${id}/evaluate`, { host: 'api.internal.example.com', port: 443 });
    expect(allowed.status).toBe(200);
    expect(allowed.json.data).toMatchObject({
      flowStarts: true,
      action: 'use-adapter',
      reason: 'allowed',
      matchedRule: 'allow-private-api',
      route: 'proxy',
      proxyAddress: 'proxy.example.com:1080',
      proxyTarget: { atyp: 'domain', host: 'api.internal.example.com', port: 443 },
      destination: { ip: '198.18.0.10', port: 443, resolvedFrom: 'api.internal.example.com' },
    });
    const ipOnly = await client.post(`/_emulator/sandboxes/${id}/evaluate`, { ip: '198.18.0.10', port: 443 });
    expect(ipOnly.json.data).toMatchObject({ action: 'deny', reason: 'l4_denied' });
    const udp = await client.post(`/_emulator/sandboxes/${id}/evaluate`, { host: 'api.internal.example.com', port: 443, transport: 'udp' });
    expect(udp.json.data).toMatchObject({ action: 'deny' });
    const nx = await client.post(`/_emulator/sandboxes/${id}/evaluate`, { host: 'db.corp.example.com', port: 443 });
    expect(nx.json.data).toMatchObject({ flowStarts: false, action: 'deny', reason: 'sandbox_resolution_failed', host: 'db.corp.example.com' });
    expect(nx.json.data.explanation).toContain('no policy decision is made');
    expect((await client.post(`/_emulator/sandboxes/${id}/evaluate`, { port: 443 })).status).toBe(400);
    expect((await client.post(`/_emulator/sandboxes/${id}/evaluate`, { host: 'x', port: 0 })).status).toBe(400);
    expect((await client.post('/_emulator/sandboxes/sb-nope/evaluate', { host: 'x', port: 1 })).status).toBe(404);
  });

  it('reports quic_not_proxied for allowed QUIC when a proxy is configured', async () => {
    const id = (await client.post('/api/v1/sandboxes', { template: 'default' })).json.data.sandbox_id;
    await client.put(`/api/v1/sandboxes/${id}/network`, { mode: 'allow-all', egress: { proxy: { type: 'socks5', address: 'proxy.example.com:1080' } } });
    const quic = await client.post(`/_emulator/sandboxes/${id}/evaluate`, { host: 'api.internal.example.com', port: 443, transport: 'udp' });
    expect(quic.json.data).toMatchObject({ action: 'deny', reason: 'quic_not_proxied' });
    const tcp = await client.post(`/_emulator/sandboxes/${id}/evaluate`, { host: 'api.internal.example.com', port: 443 });
    expect(tcp.json.data).toMatchObject({ action: 'use-adapter', route: 'proxy' });
  });
});

describe('POST /_emulator/sandboxes/{id}/probe', () => {
  it('opens a real flow and reports what the proxy saw and the first bytes back', async () => {
    const id = await docsSandbox();
    const res = await client.post(`/_emulator/sandboxes/${id}/probe`, { host: 'api.internal.example.com', port: 443, send: 'tls-client-hello' });
    expect(res.status).toBe(200);
    expect(res.json.data).toMatchObject({ outcome: 'completed', proxySaw: { atyp: 'domain', host: 'api.internal.example.com', port: 443, user: 'proxy-user', replyCode: 0 } });
    const back = Buffer.from(res.json.data.received, 'base64');
    expect(back[0]).toBe(0x16); // a TLS handshake record: the internal API's ServerHello
  });

  it('reports denied, rejected (QUIC) and error outcomes', async () => {
    const id = await docsSandbox();
    const denied = await client.post(`/_emulator/sandboxes/${id}/probe`, { ip: '198.18.0.99', port: 80, send: 'http-get' });
    expect(denied.json.data).toMatchObject({ outcome: 'denied' });
    expect(denied.json.data.proxySaw).toBeUndefined();
    await client.put(`/api/v1/sandboxes/${id}/network`, { mode: 'allow-all', egress: { proxy: { type: 'socks5', address: 'proxy.example.com:1080', credentialRef: 'corp-proxy' } } });
    const quic = await client.post(`/_emulator/sandboxes/${id}/probe`, { host: 'example.com', ip: '198.18.0.77', port: 443, send: 'quic-initial' });
    expect(quic.json.data).toMatchObject({ outcome: 'rejected' });
    await client.post('/_emulator/proxy/faults', { name: 'ruleset', type: 'reply_code', toxicity: 1, attributes: { code: 2 } });
    const refused = await client.post(`/_emulator/sandboxes/${id}/probe`, { host: 'api.internal.example.com', port: 443, send: 'tls-client-hello' });
    expect(refused.json.data).toMatchObject({ outcome: 'error', errorStep: 'proxy_reply', proxySaw: { replyCode: 2 } });
    const raw = await client.post(`/_emulator/sandboxes/${id}/probe`, { ip: '198.18.0.10', port: 443, send: 'raw', data: 'not base64 !!' });
    expect(raw.status).toBe(400);
  });
});

describe('sandbox views, hosts and DNS views', () => {
  it('lists the explicit ingress of a sandbox and stores hosts entries', async () => {
    const id = (await client.post('/api/v1/sandboxes', { template: 'default' })).json.data.sandbox_id;
    const view = await client.get(`/_emulator/sandboxes/${id}`);
    expect(view.json.data).toMatchObject({ interception: 'explicit', ingress: { socks5: expect.stringMatching(/^127\.0\.0\.1:\d+$/), httpConnect: expect.stringMatching(/^127\.0\.0\.1:\d+$/) }, hosts: {} });
    const put = await client.put(`/_emulator/sandboxes/${id}/hosts`, { hosts: { 'db.corp.example.com': ['198.18.0.20'] } });
    expect(put.status).toBe(200);
    expect((await client.get(`/_emulator/sandboxes/${id}`)).json.data.hosts).toEqual({ 'db.corp.example.com': ['198.18.0.20'] });
    expect((await client.put(`/_emulator/sandboxes/${id}/hosts`, { hosts: { x: ['not-an-ip'] } })).status).toBe(400);
  });

  it('replaces and reads the platform DNS view, and reset restores the default world', async () => {
    const before = (await client.get('/_emulator/dns/platform')).json.data.records;
    expect(before['api.internal.example.com']).toEqual(['198.18.0.10']);
    expect(before['proxy.example.com:1080']).toEqual([emu.current.proxy!.address]);
    const put = await client.put('/_emulator/dns/platform', { records: { 'svc.example.com': ['198.18.1.1'] } });
    expect(put.json.data.records).toEqual({ 'svc.example.com': ['198.18.1.1'] });
    for (const bad of [{ records: { 'a.example.com': ['nope'] } }, { records: [] }, { records: { 'a.example.com:80': ['198.18.0.1'] } }]) {
      expect((await client.put('/_emulator/dns/platform', bad)).status).toBe(400);
    }
    await client.post('/_emulator/reset');
    expect((await client.get('/_emulator/dns/platform')).json.data.records).toEqual(before);
  });

  it('connects in-process through the same gateway', async () => {
    const id = await docsSandbox();
    const socket = await emu.current.sandbox(id).connect({ host: 'api.internal.example.com', port: 443 });
    const answer = await httpsGet(socket, 'api.internal.example.com', '/in-process');
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body).path).toBe('/in-process');
    await expect(emu.current.sandbox(id).connect({ host: 'db.corp.example.com', port: 443 })).rejects.toThrow(/ENOTFOUND/);
  });
});
