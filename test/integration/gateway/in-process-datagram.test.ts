import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator.js';
import { fixturesDir } from '../../../src/paths.js';
import { waitForEvent } from '../../helpers/emulator.js';
import { docsPolicy } from '../../helpers/docs-policy.js';
import { emulatorInternals, type EmulatorInternals } from '../../../src/internals.js';

/**
 * In-process interception for datagrams: `emu.sandbox(id).sendDatagram(...)` goes through the gateway's
 * UDP path (resolution as the sandbox resolves, classification, policy, UDP rejection with a proxy,
 * direct sending without one) and is audited as a datagram from UDP ASSOCIATE would be. The only real
 * traffic is to a loopback echo service this file starts; 198.18.x addresses exist only as data.
 */
let emu: Emulator;
let internals: EmulatorInternals;
let echo: dgram.Socket;
let echoPort = 0;
const echoed: Buffer[] = [];

beforeAll(async () => {
  emu = await startEmulator({ token: 't' });
  internals = emulatorInternals(emu);
  echo = dgram.createSocket('udp4');
  echo.on('message', (msg, rinfo) => {
    echoed.push(msg);
    echo.send(Buffer.concat([Buffer.from('echo:'), msg]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => echo.bind(0, '127.0.0.1', () => r()));
  echoPort = echo.address().port;
});
afterAll(async () => {
  echo.close();
  await emu.stop();
});
beforeEach(async () => {
  await emu.reset();
  echoed.length = 0;
});

const quicInitial = Buffer.from((JSON.parse(readFileSync(join(fixturesDir, 'handshakes', 'rfc-quic-initial-vectors.json'), 'utf8')) as { v1: { packet: string } }).v1.packet, 'hex');
const dnsQuery = (name: string) => dnsPacket.encode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }] });
const byFlow = (flowId: string, phase: 'attempt' | 'result' = 'result') => waitForEvent(emu, (e) => e.attributes.flow_id === flowId && e.phase === phase);

/** The docs' policy (SOCKS5 proxy with credentials) in allow-all mode, so UDP gets past the rules to the proxy question. */
async function proxiedSandbox() {
  internals.services.credentialSources.create({ name: 'src', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'proxy-user', password: 'proxy-pass' } } });
  const id = internals.services.sandboxes.claim({ template: 'default' }).sandbox_id;
  internals.services.network.put(id, docsPolicy('src', { mode: 'allow-all' }), false);
  return id;
}

/**
 * No proxy, block-all: QUIC to example.com:443/udp is allowed by a rule, 198.18.0.99 is denied by one.
 * example.com is 198.18.0.61 in the platform view, and that address's port 443 is the loopback echo.
 */
function directSandbox() {
  internals.gateway.platformDns.replace({ ...internals.gateway.platformDns.records(), 'example.com': ['198.18.0.61'], '198.18.0.61:443': [`127.0.0.1:${echoPort}`] });
  const id = internals.services.sandboxes.claim({ template: 'default' }).sandbox_id;
  internals.services.network.put(
    id,
    {
      mode: 'block-all',
      egress: {
        trafficRules: [
          { name: 'deny-blackhole', action: 'deny', cidrs: ['198.18.0.99/32'] },
          { name: 'allow-quic-example', action: 'allow', domains: ['example.com'], ports: [{ port: 443, protocol: 'udp' }] },
        ],
      },
    },
    false,
  );
  return id;
}

describe('sandbox(id).sendDatagram with a proxy configured: UDP is rejected', () => {
  it('rejects the RFC 9001 QUIC Initial as quic_not_proxied, audited with its SNI, without waiting for a reply', async () => {
    const id = await proxiedSandbox();
    // A reply wait would outlast the test's own timeout: a rejected datagram must not wait at all.
    const r = await emu.sandbox(id).sendDatagram({ ip: '198.18.0.77', port: 443, data: quicInitial, timeoutMs: 60_000 });
    expect(r).toEqual({ outcome: 'rejected', reason: 'quic_not_proxied', flowId: expect.stringMatching(/^udp-\d+$/) });
    const event = await byFlow(r.flowId!);
    expect(event.sandbox_id).toBe(id);
    expect(event.attributes).toMatchObject({ transport: 'udp', dest_ip: '198.18.0.77', dest_port: 443, action: 'deny', outcome: 'denied', reason: 'quic_not_proxied', host: 'example.com', protocol: 'udp' });
    expect(emu.proxy!.connections.list()).toEqual([]);
    expect(internals.gateway.udp.sessions()).toBe(0);
  });

  it('rejects a DNS query to a foreign resolver as udp_not_proxied', async () => {
    const id = await proxiedSandbox();
    const r = await emu.sandbox(id).sendDatagram({ ip: '198.18.0.53', port: 53, data: dnsQuery('api.internal.example.com') });
    expect(r).toMatchObject({ outcome: 'rejected', reason: 'udp_not_proxied' });
    const event = await byFlow(r.flowId!);
    expect(event.attributes).toMatchObject({ transport: 'udp', dest_ip: '198.18.0.53', dest_port: 53, action: 'deny', outcome: 'denied', reason: 'udp_not_proxied', host: 'api.internal.example.com' });
    expect(emu.proxy!.connections.list()).toEqual([]);
    expect(internals.gateway.udp.sessions()).toBe(0);
  });
});

describe('sandbox(id).sendDatagram without a proxy: the policy decides', () => {
  it('sends an allowed datagram directly (host resolved through the platform view) and returns the first reply', async () => {
    const id = directSandbox();
    const r = await emu.sandbox(id).sendDatagram({ host: 'example.com', port: 443, data: quicInitial, timeoutMs: 5_000 });
    expect(r.outcome).toBe('sent');
    if (r.outcome !== 'sent') return;
    expect(r.reply).toEqual(Buffer.concat([Buffer.from('echo:'), quicInitial]));
    expect(echoed).toEqual([quicInitial]);
    const attempt = await byFlow(r.flowId, 'attempt');
    expect(attempt.attributes).toMatchObject({ transport: 'udp', dest_ip: '198.18.0.61', dest_port: 443, host: 'example.com', action: 'use-adapter', reason: 'allowed', outcome: 'accepted', route: 'direct', matched_rule: 'allow-quic-example' });
    // The session's result comes when it ends (idle, detach, stop): end it now and read the byte counts.
    internals.gateway.udp.close(id);
    const result = await byFlow(r.flowId);
    expect(result.attributes).toMatchObject({ outcome: 'completed', egress_bytes: quicInitial.length, ingress_bytes: quicInitial.length + 5 });
  });

  it('denies a destination the policy denies, with the policy reason and rule, and sends nothing', async () => {
    const id = directSandbox();
    const r = await emu.sandbox(id).sendDatagram({ ip: '198.18.0.99', port: 443, data: quicInitial, timeoutMs: 60_000 });
    expect(r).toEqual({ outcome: 'denied', reason: 'l4_denied', flowId: expect.stringMatching(/^udp-\d+$/) });
    const event = await byFlow(r.flowId!);
    expect(event.attributes).toMatchObject({ transport: 'udp', dest_ip: '198.18.0.99', action: 'deny', outcome: 'denied', reason: 'l4_denied', matched_rule: 'deny-blackhole' });
    expect(internals.gateway.udp.sessions()).toBe(0);
    expect(echoed).toEqual([]);
  });

  it('a host the sandbox cannot resolve is the documented pitfall: nothing is sent, one audit record per window', async () => {
    const id = directSandbox();
    // db.corp.example.com exists only on the customer side (behind the proxy), not in the platform view.
    const first = await emu.sandbox(id).sendDatagram({ host: 'db.corp.example.com', port: 443, data: quicInitial });
    expect(first).toEqual({ outcome: 'unresolvable', reason: 'sandbox_resolution_failed', host: 'db.corp.example.com', flowId: expect.stringMatching(/^udp-\d+$/) });
    const again = await emu.sandbox(id).sendDatagram({ host: 'db.corp.example.com', port: 443, data: quicInitial });
    expect(again).toEqual({ outcome: 'unresolvable', reason: 'sandbox_resolution_failed', host: 'db.corp.example.com' });
    const event = await byFlow(first.flowId!);
    expect(event.attributes).toMatchObject({ transport: 'udp', host: 'db.corp.example.com', dest_ip: '', dest_port: 443, action: 'deny', reason: 'sandbox_resolution_failed', outcome: 'error' });
    internals.audit.flush();
    expect(emu.flows({ sandboxId: id })).toHaveLength(1);
    expect(internals.gateway.udp.sessions()).toBe(0);
    expect(echoed).toEqual([]);
  });
});

describe('sandbox(id).sendDatagram with --udp-egress direct', () => {
  it('sends allowed UDP directly despite the proxy, as the platform code does', async () => {
    const direct = await startEmulator({ token: 't', udpEgress: 'direct' });
    try {
      emulatorInternals(direct).gateway.platformDns.replace({ ...emulatorInternals(direct).gateway.platformDns.records(), '198.18.0.53:53': [`127.0.0.1:${echoPort}`] });
      emulatorInternals(direct).services.credentialSources.create({ name: 'src', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'proxy-user', password: 'proxy-pass' } } });
      const id = emulatorInternals(direct).services.sandboxes.claim({ template: 'default' }).sandbox_id;
      emulatorInternals(direct).services.network.put(id, docsPolicy('src', { mode: 'allow-all' }), false);
      const query = dnsQuery('api.internal.example.com');
      const r = await direct.sandbox(id).sendDatagram({ ip: '198.18.0.53', port: 53, data: query, timeoutMs: 5_000 });
      expect(r).toEqual({ outcome: 'sent', flowId: expect.stringMatching(/^udp-\d+$/), reply: Buffer.concat([Buffer.from('echo:'), query]) });
      expect(direct.proxy!.connections.list()).toEqual([]);
    } finally {
      await direct.stop();
    }
  });
});
