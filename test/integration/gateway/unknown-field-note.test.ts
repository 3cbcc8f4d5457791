import { beforeEach, describe, expect, it } from 'vitest';
import { api, useEmulator, waitForEvent } from '../../helpers/emulator.js';
import { clientHello, sendAndCollect, viaIngress } from '../../helpers/sandbox-client.js';

/**
 * A policy key the platform does not know (a misspelled `trafficRule`) is ignored, as Go's decoding
 * ignores it upstream: the PUT succeeds and the policy is enforced without it. The emulator adds what
 * upstream lacks: a Warning header naming the key, and the same on the sandbox's flows (emulator_note).
 */
const emu = useEmulator();
const client = api(() => emu.current);

beforeEach(async () => {
  await emu.current.reset();
});

async function deniedFlowNote(id: string): Promise<unknown> {
  const ingress = emu.current.sandbox(id).view()!.ingress!.socks5;
  const before = new Set(emu.current.flows({ sandboxId: id }).map((e) => e.attributes.flow_id));
  const r = await sendAndCollect(await viaIngress(ingress, 'api.internal.example.com', 443), await clientHello('api.internal.example.com'));
  expect(r.received.length).toBe(0);
  const result = await waitForEvent(emu.current, (e) => e.sandbox_id === id && e.phase === 'result' && !before.has(e.attributes.flow_id));
  expect(result.attributes.action).toBe('deny');
  return result.attributes.emulator_note;
}

describe('unknown policy fields', () => {
  it('are accepted and ignored as upstream, named in a Warning header and in the flows of the sandbox until the next PUT', async () => {
    const id = (await client.post('/api/v1/sandboxes', { template: 'default' })).json.data.sandbox_id as string;
    const misspelled = { mode: 'block-all', egress: { trafficRule: [{ name: 'allow-api', action: 'allow', domains: ['api.internal.example.com'] }] } };
    const put = await client.put(`/api/v1/sandboxes/${id}/network`, misspelled);
    expect(put.status).toBe(200);
    // Upstream drops the key: the stored policy is plain block-all.
    expect(put.json.data).toEqual({ mode: 'block-all' });
    expect((await client.get(`/api/v1/sandboxes/${id}/network`)).json.data).toEqual({ mode: 'block-all' });
    expect(put.headers.get('warning')).toBe(
      '299 sandbox-egress-emulator "ignored unknown policy field (Sandbox0 ignores them too): egress.trafficRule (egress.trafficRule: did you mean trafficRules?)"',
    );
    // The rule the user meant is not there, so the flow is denied; the audit says why.
    expect(await deniedFlowNote(id)).toBe('ignored unknown policy field (Sandbox0 ignores them too): egress.trafficRule');

    // A clean PUT clears the note.
    const clean = await client.put(`/api/v1/sandboxes/${id}/network`, { mode: 'block-all' });
    expect(clean.headers.get('warning')).toBeNull();
    expect(await deniedFlowNote(id)).toBeUndefined();
  });

  it('do not leak into the header as raw bytes: names are escaped to printable ASCII', async () => {
    const id = (await client.post('/api/v1/sandboxes', { template: 'default' })).json.data.sandbox_id as string;
    const put = await client.put(`/api/v1/sandboxes/${id}/network`, { mode: 'allow-all', 'näme"\n': 1 });
    expect(put.status).toBe(200);
    const warning = put.headers.get('warning')!;
    expect(warning).toMatch(/^[\x20-\x7e]+$/);
    expect(warning).toContain('n\\u{e4}me\\u{22}\\u{a}');
  });
});

describe('unknown claim fields', () => {
  it('are accepted as upstream and named in a Warning header on the claim', async () => {
    const res = await client.post('/api/v1/sandboxes', { template: 'default', confg: { ttl: 60 }, config: { network: { mode: 'block-all', egress: { trafficRule: [] } } } });
    expect(res.status).toBe(201);
    expect(res.headers.get('warning')).toBe(
      '299 sandbox-egress-emulator "ignored unknown request fields (Sandbox0 ignores them too): confg, config.network.egress.trafficRule (confg: did you mean config?; config.network.egress.trafficRule: did you mean trafficRules?)"',
    );
    const clean = await client.post('/api/v1/sandboxes', { template: 'default' });
    expect(clean.headers.get('warning')).toBeNull();
  });
});
