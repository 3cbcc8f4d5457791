import { beforeEach, describe, expect, it } from 'vitest';
import type { NetworkAuditEvent } from '../../../src/gateway/audit.js';
import { api, useEmulator, waitForEvent } from '../../helpers/emulator.js';
import { docsPolicy } from '../../helpers/docs-policy.js';
import { clientHello, httpsGet, sendAndCollect, viaIngress } from '../../helpers/sandbox-client.js';

/**
 * Policy fields the emulator stores but does not enforce (PRODUCT.md deliberate differences): the PUT
 * response's Warning header names them, and so does every audit event of the sandbox's flows while
 * its policy holds them.
 */
const emu = useEmulator();
const client = api(() => emu.current);

const protocolRules = [{ name: 'no-deletes', protocol: 'http', http: { methods: { denied: ['DELETE'] } } }];
const credentialRules = [{ name: 'proxy-auth', credentialRef: 'corp-proxy', protocol: 'socks5', domains: ['api.internal.example.com'] }];

/** The docs' policy, plus the given unenforced egress fields. */
function policyWith(extra: Record<string, unknown> = {}) {
  const policy = docsPolicy('src');
  return { ...policy, egress: { ...policy.egress, ...extra } };
}

async function sandboxWith(policy: unknown): Promise<{ id: string; ingress: string; warning: string | null }> {
  await client.post('/api/v1/credential-sources', { name: 'src', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'proxy-user', password: 'proxy-pass' } } });
  const id = (await client.post('/api/v1/sandboxes', { template: 'default' })).json.data.sandbox_id as string;
  const put = await client.put(`/api/v1/sandboxes/${id}/network`, policy);
  expect(put.status).toBe(200);
  return { id, ingress: emu.current.sandbox(id).view()!.ingress!.socks5, warning: put.headers.get('warning') };
}

/** One allowed flow through the proxy; returns its attempt and result events. */
async function allowedFlow(id: string, ingress: string): Promise<NetworkAuditEvent[]> {
  const before = new Set(emu.current.flows({ sandboxId: id }).map((e) => e.attributes.flow_id));
  const answer = await httpsGet(await viaIngress(ingress, 'api.internal.example.com', 443), 'api.internal.example.com', '/v1/ping');
  expect(answer.status).toBe(200);
  const result = await waitForEvent(emu.current, (e) => e.sandbox_id === id && e.phase === 'result' && !before.has(e.attributes.flow_id));
  const events = emu.current.flows({ sandboxId: id }).filter((e) => e.attributes.flow_id === result.attributes.flow_id);
  expect(events.map((e) => [e.phase, e.outcome])).toEqual([
    ['attempt', 'accepted'],
    ['result', 'completed'],
  ]);
  return events;
}

/** One flow the policy denies (block-all, a port no rule allows): a single result event. */
async function deniedFlow(id: string, ingress: string): Promise<NetworkAuditEvent> {
  const before = new Set(emu.current.flows({ sandboxId: id }).map((e) => e.attributes.flow_id));
  const r = await sendAndCollect(await viaIngress(ingress, 'api.internal.example.com', 8443), await clientHello('api.internal.example.com'));
  expect(r.received.length).toBe(0);
  const result = await waitForEvent(emu.current, (e) => e.sandbox_id === id && e.phase === 'result' && !before.has(e.attributes.flow_id));
  expect(result.attributes).toMatchObject({ action: 'deny', reason: 'l4_denied' });
  return result;
}

beforeEach(async () => {
  await emu.current.reset();
});

describe('the audit names the policy fields the emulator does not enforce', () => {
  it('puts the note naming protocolRules on the attempt and result of a flow, worded as the Warning header', async () => {
    const { id, ingress, warning } = await sandboxWith(policyWith({ protocolRules }));
    const events = await allowedFlow(id, ingress);
    for (const e of events) expect(e.attributes.emulator_note).toBe('not enforced by the emulator: protocolRules');
    expect(warning).toBe(`299 sandbox-egress-emulator "stored and validated but ${events[0]!.attributes.emulator_note}"`);
    expect((await deniedFlow(id, ingress)).attributes.emulator_note).toBe('not enforced by the emulator: protocolRules');
  });

  it('names every unenforced field the policy holds', async () => {
    const { id, ingress } = await sandboxWith(policyWith({ protocolRules, credentialRules }));
    for (const e of await allowedFlow(id, ingress)) expect(e.attributes.emulator_note).toBe('not enforced by the emulator: protocolRules, credentialRules');
  });

  it('adds no note when the policy holds no unenforced field', async () => {
    const { id, ingress, warning } = await sandboxWith(policyWith());
    expect(warning).toBeNull();
    for (const e of await allowedFlow(id, ingress)) expect(e.attributes).not.toHaveProperty('emulator_note');
    expect((await deniedFlow(id, ingress)).attributes).not.toHaveProperty('emulator_note');
  });

  it('drops the note from new flows once a PUT removes the fields', async () => {
    const { id, ingress } = await sandboxWith(policyWith({ protocolRules }));
    for (const e of await allowedFlow(id, ingress)) expect(e.attributes.emulator_note).toContain('protocolRules');

    const put = await client.put(`/api/v1/sandboxes/${id}/network`, policyWith());
    expect(put.status).toBe(200);
    expect(put.headers.get('warning')).toBeNull();
    for (const e of await allowedFlow(id, ingress)) expect(e.attributes).not.toHaveProperty('emulator_note');
    expect((await deniedFlow(id, ingress)).attributes).not.toHaveProperty('emulator_note');

    // And back: the note follows the current policy.
    await client.put(`/api/v1/sandboxes/${id}/network`, policyWith({ credentialRules }));
    for (const e of await allowedFlow(id, ingress)) expect(e.attributes.emulator_note).toBe('not enforced by the emulator: credentialRules');
  });

  it('puts the note on UDP events too, joined with the rejection explanation', async () => {
    const { id } = await sandboxWith(policyWith({ protocolRules }));
    const denied = await emu.current.sandbox(id).sendDatagram({ ip: '198.18.0.99', port: 9999, data: Buffer.from('raw datagram') });
    expect(denied).toMatchObject({ outcome: 'denied', reason: 'l4_denied' });
    const deniedEvent = await waitForEvent(emu.current, (e) => e.sandbox_id === id && e.attributes.flow_id === denied.flowId);
    expect(deniedEvent.attributes.emulator_note).toBe('not enforced by the emulator: protocolRules');

    // allow-all: the proxy policy rejects the datagram (not proxied); both notes are kept.
    await client.put(`/api/v1/sandboxes/${id}/network`, { ...policyWith({ protocolRules }), mode: 'allow-all' });
    const rejected = await emu.current.sandbox(id).sendDatagram({ ip: '198.18.0.99', port: 9999, data: Buffer.from('raw datagram') });
    expect(rejected).toMatchObject({ outcome: 'rejected', reason: 'udp_not_proxied' });
    const rejectedEvent = await waitForEvent(emu.current, (e) => e.sandbox_id === id && e.attributes.flow_id === rejected.flowId);
    const note = rejectedEvent.attributes.emulator_note ?? '';
    expect(note.startsWith('not enforced by the emulator: protocolRules; ')).toBe(true);
    expect(note.length).toBeGreaterThan('not enforced by the emulator: protocolRules; '.length);
  });
});
