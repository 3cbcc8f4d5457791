import { beforeEach, describe, expect, it } from 'vitest';
import { api, useEmulator, waitForEvent } from '../../helpers/emulator.js';
import { sendAndCollect, viaIngress } from '../../helpers/sandbox-client.js';

/**
 * Newer upstream denies cloud metadata destinations first, in every mode and with no policy at all
 * (ctld policy/metadata.go @c69b25eb), and never uses one as the egress proxy endpoint. Real flows
 * through a sandbox's ingress; the deny happens before any dial, so these addresses are never contacted
 * (an attempt event would be written before a dial: there is none).
 */
const emu = useEmulator();
const client = api(() => emu.current);

beforeEach(async () => {
  await emu.current.reset();
});

async function claim(policy?: unknown): Promise<{ id: string; ingress: string }> {
  const id = (await client.post('/api/v1/sandboxes', { template: 'default' })).json.data.sandbox_id as string;
  if (policy) expect((await client.put(`/api/v1/sandboxes/${id}/network`, policy)).status).toBe(200);
  return { id, ingress: emu.current.sandbox(id).view()!.ingress!.socks5 };
}

const httpHead = (host: string) => `GET /latest/meta-data/ HTTP/1.1\r\nHost: ${host}\r\n\r\n`;

async function flowTo(id: string, ingress: string, ip: string, port: number, bytes: string) {
  const before = new Set(emu.current.flows({ sandboxId: id }).map((e) => e.attributes.flow_id));
  const r = await sendAndCollect(await viaIngress(ingress, ip, port), bytes);
  const result = await waitForEvent(emu.current, (e) => e.sandbox_id === id && e.phase === 'result' && !before.has(e.attributes.flow_id));
  const events = emu.current.flows({ sandboxId: id }).filter((e) => e.attributes.flow_id === result.attributes.flow_id);
  return { received: r.received, result, events };
}

describe('cloud metadata destinations are denied first', () => {
  const cases = [
    { name: 'allow-all policy', policy: { mode: 'allow-all' } },
    { name: 'no policy at all (the template has none)', policy: undefined },
    { name: 'a rule allowing every address', policy: { mode: 'block-all', egress: { trafficRules: [{ name: 'any', action: 'allow', cidrs: ['0.0.0.0/0', '::/0'] }] } } },
  ];
  for (const { name, policy } of cases) {
    it(`denies 169.254.169.254 and fd00:ec2::254 with l4_denied under ${name}`, async () => {
      const { id, ingress } = await claim(policy);
      for (const ip of ['169.254.169.254', 'fd00:ec2::254', '100.100.100.200']) {
        const { received, result, events } = await flowTo(id, ingress, ip, 80, httpHead(ip.includes(':') ? `[${ip}]` : ip));
        expect(received.length).toBe(0);
        expect(result.attributes).toMatchObject({ dest_ip: ip, dest_port: 80, action: 'deny', reason: 'l4_denied', outcome: 'denied' });
        // Denied before any dial: no attempt event (written before dialing), no route, no proxy.
        expect(events.map((e) => e.phase)).toEqual(['result']);
        expect(result.attributes).not.toHaveProperty('route');
      }
    });
  }

  it('denies an unclassified flow and the IPv4-mapped form too', async () => {
    const { id, ingress } = await claim({ mode: 'allow-all' });
    const raw = await flowTo(id, ingress, '169.254.170.2', 8080, '\x00\x01binary');
    expect(raw.result.attributes).toMatchObject({ action: 'deny', reason: 'l4_denied' });
    const mapped = await flowTo(id, ingress, '::ffff:169.254.169.254', 80, httpHead('metadata'));
    expect(mapped.result.attributes).toMatchObject({ action: 'deny', reason: 'l4_denied' });
  });

  it('denies a metadata datagram in allow-all', async () => {
    const { id } = await claim({ mode: 'allow-all' });
    const sent = await emu.current.sandbox(id).sendDatagram({ ip: '169.254.169.254', port: 53, data: Buffer.from('raw datagram') });
    expect(sent).toMatchObject({ outcome: 'denied', reason: 'l4_denied' });
  });

  it('never uses a metadata address as the egress proxy endpoint, even with loopback endpoints allowed', async () => {
    await client.put('/_emulator/dns/platform', { records: { ...(await client.get('/_emulator/dns/platform')).json.data.records, 'meta-proxy.example.com': ['100.100.100.200'] } });
    const { id, ingress } = await claim({ mode: 'allow-all', egress: { proxy: { type: 'socks5', address: 'meta-proxy.example.com:1080' } } });
    const { result } = await flowTo(id, ingress, '198.18.0.10', 80, httpHead('api.internal.example.com'));
    expect(result.attributes).toMatchObject({ outcome: 'error', error_step: 'proxy_protected' });
    expect(result.attributes.error).toBe('egress proxy endpoint resolves to a protected address: meta-proxy.example.com resolves to 100.100.100.200');
  });

  it('explains the deny in a dry run', async () => {
    const { id } = await claim({ mode: 'allow-all' });
    const r = await client.post(`/_emulator/sandboxes/${id}/evaluate`, { ip: '169.254.169.254', port: 80, host: 'metadata' });
    expect(r.json.data).toMatchObject({ action: 'deny', reason: 'l4_denied' });
    expect(r.json.data.explanation).toContain('cloud metadata');
  });
});
