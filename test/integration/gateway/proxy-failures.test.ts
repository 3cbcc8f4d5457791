import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SocksClient } from 'socks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator.js';
import { fixturesDir } from '../../../src/paths.js';
import { encodeUdpDatagram } from '../../../src/socks5/udp-datagram.js';
import { waitForEvent } from '../../helpers/emulator.js';
import { docsPolicy } from '../../helpers/docs-policy.js';
import { clientHello, sendAndCollect, viaIngress } from '../../helpers/sandbox-client.js';
import { emulatorInternals, type EmulatorInternals } from '../../../src/internals.js';

/**
 * Proxy failures as the sandbox sees them (accept, then close without payload) and as the audit names
 * them; UDP rejection. A short proxy timeout keeps the handshake-delay case fast.
 */
let emu: Emulator;
let internals: EmulatorInternals;
beforeAll(async () => {
  emu = await startEmulator({ token: 't', gatewayTimeouts: { proxyMs: 400 } });
  internals = emulatorInternals(emu);
});
afterAll(async () => {
  await emu.stop();
});
beforeEach(async () => {
  await emu.reset();
});

async function proxiedSandbox(mode: 'block-all' | 'allow-all' = 'block-all') {
  internals.services.credentialSources.create({ name: 'src', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'proxy-user', password: 'proxy-pass' } } });
  const id = internals.services.sandboxes.claim({ template: 'default' }).sandbox_id;
  await internals.runtime.attach(id);
  internals.services.network.put(id, docsPolicy('src', { mode }), false);
  return { id, ingress: emu.sandbox(id).view()!.ingress!.socks5 };
}

async function failedFlow(id: string, ingress: string) {
  const r = await sendAndCollect(await viaIngress(ingress, 'api.internal.example.com', 443), await clientHello('api.internal.example.com'));
  expect(r.received.length).toBe(0); // accepted, then closed without any payload
  return (await waitForEvent(emu, (e) => e.sandbox_id === id && e.phase === 'result')).attributes;
}

describe('proxy failures: accept-then-close, and the audit names the cause', () => {
  it('wrong password', async () => {
    const { id, ingress } = await proxiedSandbox();
    internals.services.credentialSources.update('src', { name: 'src', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'proxy-user', password: 'not-the-password' } } });
    const a = await failedFlow(id, ingress);
    expect(a).toMatchObject({ outcome: 'error', error_step: 'proxy_auth', action: 'use-adapter' });
    expect(a.error).toContain('username/password authentication failed');
    expect(JSON.stringify(a)).not.toContain('not-the-password');
    expect(emu.proxy!.connections.list()[0]).toMatchObject({ auth: 'rejected', user: 'proxy-user' });
  });

  it('proxy down', async () => {
    const { id, ingress } = await proxiedSandbox();
    const dead = net.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()));
    const port = (dead.address() as net.AddressInfo).port;
    await new Promise((r) => dead.close(r)); // nothing listens there any more
    internals.gateway.platformDns.replace({ ...internals.gateway.platformDns.records(), 'proxy.example.com:1080': [`127.0.0.1:${port}`] });
    const a = await failedFlow(id, ingress);
    expect(a).toMatchObject({ outcome: 'error', error_step: 'proxy_connect' });
    expect(a.error).toContain('ECONNREFUSED');
  });

  it('a proxy that cannot resolve names (reject_domain_atyp)', async () => {
    const { id, ingress } = await proxiedSandbox();
    emu.proxy!.faults.add({ name: 'no-names', type: 'reject_domain_atyp', toxicity: 1, attributes: {} });
    const a = await failedFlow(id, ingress);
    expect(a).toMatchObject({ outcome: 'error', error_step: 'proxy_reply', proxy_reply_code: 8, proxy_target_atyp: 'domain' });
  });

  it('reply code 0x02 (not allowed by ruleset)', async () => {
    const { id, ingress } = await proxiedSandbox();
    emu.proxy!.faults.add({ name: 'ruleset', type: 'reply_code', toxicity: 1, attributes: { code: 2 } });
    const a = await failedFlow(id, ingress);
    expect(a).toMatchObject({ outcome: 'error', error_step: 'proxy_reply', proxy_reply_code: 2 });
    expect(a.error).toContain('connection not allowed by ruleset');
  });

  it('handshake delay past the timeout', async () => {
    const { id, ingress } = await proxiedSandbox();
    emu.proxy!.faults.add({ name: 'slow', type: 'handshake_delay', toxicity: 1, attributes: { latencyMs: 5_000 } });
    const a = await failedFlow(id, ingress);
    expect(a).toMatchObject({ outcome: 'error', error_step: 'proxy_timeout' });
  });

  it('a protected proxy endpoint is refused before any connection (--proxy-endpoints platform)', async () => {
    const strict = await startEmulator({ token: 't', proxyEndpoints: 'platform' });
    try {
      emulatorInternals(strict).services.credentialSources.create({ name: 'src', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'proxy-user', password: 'proxy-pass' } } });
      const id = emulatorInternals(strict).services.sandboxes.claim({ template: 'default' }).sandbox_id;
      await emulatorInternals(strict).runtime.attach(id);
      emulatorInternals(strict).services.network.put(id, { mode: 'allow-all', egress: { proxy: { type: 'socks5', address: 'proxy.example.com:1080' } } }, false);
      const r = await sendAndCollect(await viaIngress(strict.sandbox(id).view()!.ingress!.socks5, 'api.internal.example.com', 443), await clientHello('api.internal.example.com'));
      expect(r.received.length).toBe(0);
      const a = (await waitForEvent(strict, (e) => e.phase === 'result')).attributes;
      expect(a).toMatchObject({ error_step: 'proxy_protected' });
      expect(a.error).toMatch(/^egress proxy endpoint resolves to a protected address: proxy\.example\.com resolves to 127\.0\.0\.1/);
      expect(strict.proxy!.connections.list()).toEqual([]);
    } finally {
      await strict.stop();
    }
  });
});

describe('UDP is never proxied', () => {
  async function udpAssociate(ingress: string) {
    const [host, port] = [ingress.split(':')[0]!, Number(ingress.split(':')[1])];
    const { socket: control, remoteHost } = await new Promise<{ socket: net.Socket; remoteHost?: { host: string; port: number } }>((resolve, reject) => {
      const c = new SocksClient({ proxy: { host, port, type: 5 }, command: 'associate', destination: { host: '0.0.0.0', port: 0 }, timeout: 5000 });
      c.once('established', resolve);
      c.once('error', reject);
      c.connect();
    });
    const client = dgram.createSocket('udp4');
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
    return { control, client, relay: remoteHost! };
  }

  it('rejects the RFC 9001 QUIC Initial with host example.com and a DNS query to a foreign resolver', async () => {
    const { id, ingress } = await proxiedSandbox('allow-all');
    const vectors = JSON.parse(readFileSync(join(fixturesDir, 'handshakes', 'rfc-quic-initial-vectors.json'), 'utf8'));
    const v1 = Buffer.from(vectors.v1.packet, 'hex');
    const { control, client, relay } = await udpAssociate(ingress);
    try {
      const received: Buffer[] = [];
      client.on('message', (m) => received.push(m));
      client.send(encodeUdpDatagram({ atyp: 'ipv4', host: '198.18.0.77', port: 443 }, v1), relay.port, relay.host);
      const quic = await waitForEvent(emu, (e) => e.sandbox_id === id && e.attributes.transport === 'udp' && e.attributes.dest_port === 443);
      expect(quic.attributes).toMatchObject({ action: 'deny', outcome: 'denied', reason: 'quic_not_proxied', host: 'example.com', protocol: 'udp' });

      const query = dnsPacket.encode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'api.internal.example.com' }] });
      client.send(encodeUdpDatagram({ atyp: 'ipv4', host: '198.18.0.53', port: 53 }, query), relay.port, relay.host);
      const dns = await waitForEvent(emu, (e) => e.sandbox_id === id && e.attributes.dest_port === 53);
      expect(dns.attributes).toMatchObject({ action: 'deny', outcome: 'denied', reason: 'udp_not_proxied', transport: 'udp' });
      expect(emu.proxy!.connections.list()).toEqual([]);
      expect(received).toEqual([]);
      expect(internals.gateway.udp.sessions()).toBe(0);
    } finally {
      control.destroy();
      client.close();
    }
  });

  it('lets the policy deny UDP first in block-all (the rule set allows only TLS to one name)', async () => {
    const { id, ingress } = await proxiedSandbox('block-all');
    const { control, client, relay } = await udpAssociate(ingress);
    try {
      client.send(encodeUdpDatagram({ atyp: 'ipv4', host: '198.18.0.53', port: 53 }, Buffer.from('not quic')), relay.port, relay.host);
      const e = await waitForEvent(emu, (x) => x.sandbox_id === id && x.attributes.transport === 'udp');
      expect(e.attributes).toMatchObject({ action: 'deny', reason: 'l4_denied' });
    } finally {
      control.destroy();
      client.close();
    }
  });
});
