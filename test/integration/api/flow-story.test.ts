import { beforeAll, describe, expect, it } from 'vitest';
import { api, useEmulator } from '../../helpers/emulator.js';

/**
 * `GET /_emulator/flows/{flowId}/story` and `POST /_emulator/sandboxes/{id}/evaluate/story`: the web
 * view's flow story from the recorded events, the test proxy's log (found by the gateway's source
 * address) and the rule trace of the gateway's decide path.
 */
const emu = useEmulator();
const client = api(() => emu.current);

const rules = [
  { name: 'allow-private-api', action: 'allow', domains: ['api.internal.example.com'], ports: [{ port: 443, protocol: 'tcp' }], appProtocols: ['tls'] },
  { name: 'deny-test-net', action: 'deny', cidrs: ['198.18.0.53/32'] },
];
const policy = (trafficRules: unknown[]) => ({
  mode: 'block-all',
  egress: { trafficRules, proxy: { type: 'socks5', address: 'proxy.example.com:1080', credentialRef: 'corp-proxy' } },
  credentialBindings: [{ ref: 'corp-proxy', sourceRef: 'src', projection: { type: 'username_password', usernamePassword: {} } }],
});

let id: string;
const probe = (body: Record<string, unknown>) => client.post(`/_emulator/sandboxes/${id}/probe`, body);
const story = (flowId: string, sandbox = id) => client.get(`/_emulator/flows/${flowId}/story?sandbox=${sandbox}`);
const steps = (s: { steps: { step: string }[] }) => s.steps.map((x) => x.step);
type Step = { step: string; status: string; summary: string; facts?: Record<string, unknown> };
const step = (s: { steps: Step[] }, name: string) => s.steps.find((x) => x.step === name)!;

beforeAll(async () => {
  await client.post('/api/v1/credential-sources', { name: 'src', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'proxy-user', password: 'proxy-pass' } } });
  id = (await client.post('/api/v1/sandboxes', { template: 'default' })).json.data.sandbox_id;
  expect((await client.put(`/api/v1/sandboxes/${id}/network`, policy(rules))).status).toBe(200);
});

describe('flow story', () => {
  it('tells an allowed, proxied flow from classification to close, with what the proxy saw', async () => {
    const p = await probe({ host: 'api.internal.example.com', port: 443, send: 'tls-client-hello' });
    expect(p.json.data.outcome).toBe('completed');
    const res = await story(p.json.data.flowId);
    expect(res.status).toBe(200);
    const s = res.json.data;
    expect(steps(s)).toEqual(['classification', 'platform-checks', 'rule-evaluation', 'domain-and-verification', 'decision', 'proxy-handshake', 'relay', 'close']);
    expect(s).toMatchObject({ sandboxId: id, host: 'api.internal.example.com', hostSource: 'tls-sni', consistent: true, mode: 'block-all' });
    expect(s.decision).toMatchObject({ action: 'use-adapter', reason: 'allowed', matchedRule: 'allow-private-api', route: 'proxy' });
    expect(s.rules.tried.map((r: { name: string; matched: boolean }) => [r.name, r.matched])).toEqual([['allow-private-api', true]]);
    expect(s.rules.notTried.map((r: { name: string }) => r.name)).toEqual(['deny-test-net']);
    // The proxy's log entry, found exactly: its client is the gateway's side of the proxy connection.
    const attrs = s.events.find((e: { phase: string }) => e.phase === 'result').attributes;
    expect(attrs.proxy_source).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(s.proxy).toMatchObject({ correlation: 'source', entry: { client: attrs.proxy_source, user: 'proxy-user', atyp: 'domain', host: 'api.internal.example.com', port: 443, replyCode: 0, methods: ['none', 'username-password'], method: 'username-password' } });
    expect(step(s, 'proxy-handshake')).toMatchObject({ status: 'ok', facts: { user: 'proxy-user', atyp: 'domain', replyCode: 0 } });
    expect(step(s, 'close')).toMatchObject({ status: 'ok' });
    expect(s.events.map((e: { phase: string }) => e.phase)).toEqual(['attempt', 'result']);
    expect(JSON.stringify(s)).not.toContain('proxy-pass');
  });

  it('tells a denied flow: the rules tried, the one that denied, no dial', async () => {
    const p = await probe({ ip: '198.18.0.53', port: 80, send: 'http-get' });
    const s = (await story(p.json.data.flowId)).json.data;
    expect(s.decision).toMatchObject({ action: 'deny', reason: 'l4_denied', matchedRule: 'deny-test-net', phase: 'destination' });
    expect(s.rules.tried.map((r: { name: string; matched: boolean; groups: unknown }) => [r.name, r.matched, r.groups])).toEqual([
      ['allow-private-api', false, { ports: false, domains: false, appProtocols: false }],
      ['deny-test-net', true, { cidrs: true }],
    ]);
    expect(step(s, 'rule-evaluation')).toMatchObject({ status: 'failed', summary: '2 rules tried; "deny-test-net" matched and denies' });
    expect(step(s, 'proxy-handshake').status).toBe('skipped');
    expect(step(s, 'close').status).toBe('failed');
    expect(s.events.map((e: { phase: string }) => e.phase)).toEqual(['result']);
  });

  it('names the fault when the proxy refuses, and says when the policy has changed since', async () => {
    expect((await client.post('/_emulator/proxy/faults', { name: 'refuse', type: 'reply_code', attributes: { code: 5 } })).status).toBe(201);
    try {
      const p = await probe({ host: 'api.internal.example.com', port: 443, send: 'tls-client-hello' });
      expect(p.json.data.outcome).toBe('error');
      const s = (await story(p.json.data.flowId)).json.data;
      expect(step(s, 'proxy-handshake')).toMatchObject({ status: 'failed', facts: { replyCode: 5, faults: ['refuse'], correlation: 'source' } });
      expect(step(s, 'proxy-handshake').summary).toContain('reply 0x05 (connection refused)');
      expect(step(s, 'relay').status).toBe('skipped');
      expect(step(s, 'close')).toMatchObject({ status: 'failed', facts: { error_step: 'proxy_reply' } });

      // Today's policy no longer has the allow rule: the record stays what happened, and the story says so.
      expect((await client.put(`/api/v1/sandboxes/${id}/network`, policy([rules[1]]))).status).toBe(200);
      const later = (await story(p.json.data.flowId)).json.data;
      expect(later.consistent).toBe(false);
      expect(step(later, 'decision')).toMatchObject({ status: 'ok', facts: { action: 'use-adapter', matchedRule: 'allow-private-api' } });
      expect(step(later, 'decision').summary).toContain('the policy has changed since');
    } finally {
      await client.delete('/_emulator/proxy/faults/refuse');
      await client.put(`/api/v1/sandboxes/${id}/network`, policy(rules));
    }
  });

  it('is 404 for an unknown flow, 400 without the sandbox, 401 without the token', async () => {
    expect((await story('tcp-999999')).json).toEqual({ success: false, error: { code: 'not_found', message: `flow not found: tcp-999999 (sandbox ${id})` } });
    const missing = await client.get('/_emulator/flows/tcp-1/story');
    expect(missing.status).toBe(400);
    expect(missing.json.error.message).toBe('sandbox is required');
    expect((await fetch(`${emu.current.apiUrl}/_emulator/flows/tcp-1/story?sandbox=${id}`)).status).toBe(401);
  });
});

describe('evaluate story', () => {
  it('returns the dry-run decision with the same story, without timings or events', async () => {
    const res = await client.post(`/_emulator/sandboxes/${id}/evaluate/story`, { host: 'api.internal.example.com', port: 443 });
    expect(res.status).toBe(200);
    const { decision, story: s } = res.json.data;
    expect(decision).toMatchObject({ action: 'use-adapter', reason: 'allowed', matchedRule: 'allow-private-api', route: 'proxy', proxyTarget: { atyp: 'domain', host: 'api.internal.example.com', port: 443 } });
    // The same answer as the plain evaluate route.
    const plain = (await client.post(`/_emulator/sandboxes/${id}/evaluate`, { host: 'api.internal.example.com', port: 443 })).json.data;
    expect(decision).toEqual(plain);
    expect(steps(s)).toEqual(['classification', 'platform-checks', 'rule-evaluation', 'domain-and-verification', 'decision', 'proxy-handshake']);
    expect(step(s, 'proxy-handshake').summary).toBe('would CONNECT api.internal.example.com:443 (ATYP domain) through proxy.example.com:1080');
    expect(s.events).toEqual([]);
    expect(s.rules.firstMatch).toBe(0);

    const unresolvable = (await client.post(`/_emulator/sandboxes/${id}/evaluate/story`, { host: 'db.corp.example.com', port: 5432 })).json.data;
    expect(unresolvable.decision.reason).toBe('sandbox_resolution_failed');
    expect(unresolvable.story.steps).toHaveLength(1);
    expect((await client.post('/_emulator/sandboxes/sb-nope/evaluate/story', { host: 'x', port: 1 })).status).toBe(404);
    expect((await client.post(`/_emulator/sandboxes/${id}/evaluate/story`, { port: 1 })).status).toBe(400);
  });
});
