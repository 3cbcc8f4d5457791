import { execa } from 'execa';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assertBuilt, binPath } from '../../helpers/bin.js';
import { api, useEmulator, waitForEvent } from '../../helpers/emulator.js';

/** QUIC with any SNI/ALPN: the probe's Initial, and evaluate --app-protocol quic / --quic-sni. */
const emu = useEmulator();
const client = api(() => emu.current);
beforeAll(() => assertBuilt());
beforeEach(async () => {
  await emu.current.reset();
});

async function sandbox(ports: { port: number; protocol: string }[], proxy: boolean) {
  // The customer's host, as the cluster DNS (and so the gateway's host verification) resolves it.
  const platform = (await client.get('/_emulator/dns/platform')).json.data.records;
  expect((await client.put('/_emulator/dns/platform', { records: { ...platform, 'h3.customer.example': ['198.18.0.53'] } })).status).toBe(200);
  const id = (await client.post('/api/v1/sandboxes', { template: 'default' })).json.data.sandbox_id as string;
  const put = await client.put(`/api/v1/sandboxes/${id}/network`, {
    mode: 'block-all',
    egress: {
      trafficRules: [{ name: 'h3-api', action: 'allow', domains: ['h3.customer.example'], ports }],
      ...(proxy ? { proxy: { type: 'socks5', address: 'proxy.example.com:1080' } } : {}),
    },
  });
  expect(put.status).toBe(200);
  return id;
}

const cli = (args: string[]) => execa('node', [binPath, ...args], { reject: false, env: { SANDBOX0_BASE_URL: emu.current.apiUrl, SANDBOX0_TOKEN: emu.current.token }, extendEnv: true });

describe('QUIC probes with any SNI', () => {
  it('sends an Initial whose SNI the gateway classifies, for a name other than example.com', async () => {
    const id = await sandbox([{ port: 443, protocol: 'udp' }], true);
    const r = await client.post(`/_emulator/sandboxes/${id}/probe`, { ip: '198.18.0.53', sni: 'h3.customer.example', port: 443, send: 'quic-initial', alpn: ['h3'] });
    expect(r.status).toBe(200);
    expect(r.json.data).toMatchObject({ outcome: 'rejected', decision: { reason: 'quic_not_proxied', classification: { host: 'h3.customer.example' } } });
    const event = await waitForEvent(emu.current, (e) => e.attributes.flow_id === r.json.data.flowId && e.phase === 'result');
    expect(event.attributes).toMatchObject({ transport: 'udp', host: 'h3.customer.example', reason: 'quic_not_proxied' });
  });
});

describe('evaluate --app-protocol quic (bin)', () => {
  it('explains that the rule allows TCP only', async () => {
    const id = await sandbox([{ port: 443, protocol: 'tcp' }], false);
    const r = await cli(['evaluate', '-s', id, '--ip', '198.18.0.53', '--host', 'h3.customer.example', '--port', '443', '--app-protocol', 'quic']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Decision: +deny$/m);
    expect(r.stdout).toMatch(/^Classified: +udp, host h3\.customer\.example$/m);
    expect(r.stdout).toContain('the same destination over TCP would be allowed by rule "h3-api": its ports name protocol tcp only');
  });

  it('explains that QUIC is never proxied (--quic-sni)', async () => {
    const id = await sandbox([{ port: 443, protocol: 'udp' }], true);
    const r = await cli(['evaluate', '-s', id, '--ip', '198.18.0.53', '--quic-sni', 'h3.customer.example', '--port', '443', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ action: 'deny', reason: 'quic_not_proxied', classification: { appProtocol: 'udp', host: 'h3.customer.example' } });
    expect(out.explanation).toContain('QUIC is never proxied');
  });

  it('refuses --app-protocol quic with --transport tcp', async () => {
    const r = await cli(['evaluate', '-s', 'sb-x', '--host', 'a.example', '--port', '443', '--app-protocol', 'quic', '--transport', 'tcp']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('QUIC is UDP');
  });
});
