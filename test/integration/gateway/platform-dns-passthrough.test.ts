import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import { beforeEach, describe, expect, it } from 'vitest';
import type { HostLookup } from '../../../src/dns/passthrough.js';
import { SandboxResolver } from '../../../src/dns/resolver-server.js';
import { silentLogger } from '../../../src/log.js';
import { docsPolicy } from '../../helpers/docs-policy.js';
import { api, useEmulator, waitForEvent } from '../../helpers/emulator.js';
import { httpsGet, viaIngress } from '../../helpers/sandbox-client.js';
import { emulatorInternals } from '../../../src/internals.js';

/**
 * `platformDns.passthrough` (`--platform-dns-passthrough`): names the platform DNS view has no record
 * for are resolved with the host's resolver — here a fake that records its calls (no real DNS query
 * is ever made) — for the SOCKS5 proxy endpoint's hostname and for names sandboxes resolve.
 */
const hostTable: Record<string, string[] | 'hang'> = {
  'svc.passthrough.test': ['203.0.113.7'],
  'dns.passthrough.test': ['203.0.113.8'],
  'slow.passthrough.test': 'hang',
  'corp-proxy.test': ['127.0.0.1'],
  // Never asked: the platform view has a record for it.
  'api.internal.example.com': ['203.0.113.99'],
};
const calls: string[] = [];
const fakeLookup: HostLookup = (name) => {
  calls.push(name);
  const entry = hostTable[name];
  if (entry === 'hang') return new Promise(() => {});
  if (!entry) return Promise.reject(Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' }));
  return Promise.resolve(entry.map((address) => ({ address, family: 4 })));
};

async function claim(client: ReturnType<typeof api>): Promise<string> {
  return (await client.post('/api/v1/sandboxes', { template: 'default' })).json.data.sandbox_id as string;
}

describe('with passthrough on', () => {
  const emu = useEmulator({ platformDns: { passthrough: true, lookup: fakeLookup, timeoutMs: 50 } });
  const client = api(() => emu.current);

  beforeEach(async () => {
    await emu.current.reset(); // also forgets cached host answers
    calls.length = 0;
  });

  it('says so in /_emulator/info', async () => {
    expect((await client.get('/_emulator/info')).json.data.platformDns).toEqual({ passthrough: true });
  });

  it('resolves a name without a record through the host resolver, once, and explicit records win', async () => {
    const id = await claim(client);
    const first = await client.post(`/_emulator/sandboxes/${id}/evaluate`, { host: 'svc.passthrough.test', port: 443 });
    expect(first.json.data).toMatchObject({ flowStarts: true, destination: { ip: '203.0.113.7', port: 443, resolvedFrom: 'svc.passthrough.test' } });
    const second = await client.post(`/_emulator/sandboxes/${id}/evaluate`, { host: 'svc.passthrough.test', port: 443 });
    expect(second.json.data.destination.ip).toBe('203.0.113.7');
    expect(calls).toEqual(['svc.passthrough.test']); // the second answer came from the cache

    const recorded = await client.post(`/_emulator/sandboxes/${id}/evaluate`, { host: 'api.internal.example.com', port: 443 });
    expect(recorded.json.data.destination.ip).toBe('198.18.0.10');
    expect(calls).not.toContain('api.internal.example.com');
  });

  it('lets an explicit-ingress hostname CONNECT become a flow to the passthrough address (with no direct route unless mapped)', async () => {
    const id = await claim(client);
    const ingress = emu.current.sandbox(id).view()!.ingress!.socks5;
    const socket = await viaIngress(ingress, 'svc.passthrough.test', 443);
    socket.on('error', () => {});
    socket.end('hello');
    const result = await waitForEvent(emu.current, (e) => e.sandbox_id === id && e.phase === 'result');
    // allow-all, no proxy: a direct flow, and loopback-only direct egress has no route to the address.
    expect(result.attributes).toMatchObject({ dest_ip: '203.0.113.7', dest_port: 443, route: 'direct', outcome: 'error', error_step: 'upstream_no_route' });
    expect(calls).toEqual(['svc.passthrough.test']);
  });

  it('treats a host lookup that times out as unresolvable, with the reason', async () => {
    const id = await claim(client);
    await expect(emu.current.sandbox(id).connect({ host: 'slow.passthrough.test', port: 443 })).rejects.toThrow(
      /getaddrinfo ENOTFOUND slow\.passthrough\.test \(inside sandbox .*the host resolver did not answer for slow\.passthrough\.test within 50 ms/,
    );
    const event = await waitForEvent(emu.current, (e) => e.sandbox_id === id && e.phase === 'result');
    expect(event.attributes).toMatchObject({ reason: 'sandbox_resolution_failed', host: 'slow.passthrough.test' });
    expect(event.attributes.emulator_note).toContain('did not answer for slow.passthrough.test within 50 ms');
    const dry = await client.post(`/_emulator/sandboxes/${id}/evaluate`, { host: 'slow.passthrough.test', port: 443 });
    expect(dry.json.data).toMatchObject({ flowStarts: false, reason: 'sandbox_resolution_failed' });
    expect(dry.json.data.explanation).toContain('did not answer for slow.passthrough.test within 50 ms');
    expect(calls).toEqual(['slow.passthrough.test']); // the failure was cached too
  });

  it("answers the transparent sandbox resolver's queries through the host resolver", async () => {
    const id = await claim(client);
    const pending = emulatorInternals(emu.current).runtime.resolverAnswer(id, 'dns.passthrough.test');
    expect(pending).toBeInstanceOf(Promise); // not cached yet: the host is asked
    expect(await pending).toEqual(['203.0.113.8']);

    // The resolver's sockets, answering from the runtime as the transparent backend wires them.
    const udp = dgram.createSocket('udp4');
    const tcp = net.createServer();
    udp.bind(0, '127.0.0.1');
    tcp.listen(0, '127.0.0.1');
    await Promise.all([once(udp, 'listening'), once(tcp, 'listening')]);
    const resolver = new SandboxResolver({ lookup: emulatorInternals(emu.current).runtime.resolverAnswer, sandboxForAddress: () => id, logger: silentLogger() });
    resolver.attachUdp(udp);
    resolver.attachTcp(tcp);
    const client4 = dgram.createSocket('udp4');
    try {
      const ask = async (name: string, queryId: number) => {
        client4.send(dnsPacket.encode({ type: 'query', id: queryId, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name, class: 'IN' }] }), (udp.address() as net.AddressInfo).port, '127.0.0.1');
        const [msg] = (await once(client4, 'message')) as [Buffer];
        return dnsPacket.decode(msg) as unknown as { id: number; rcode: string; answers: { data: string }[] };
      };
      const viaHost = await ask('svc.passthrough.test', 1);
      expect([viaHost.id, viaHost.rcode, viaHost.answers.map((a) => a.data)]).toEqual([1, 'NOERROR', ['203.0.113.7']]);
      const nx = await ask('unknown.passthrough.test', 2);
      expect([nx.id, nx.rcode]).toEqual([2, 'NXDOMAIN']);
      expect(calls).toEqual(['dns.passthrough.test', 'svc.passthrough.test', 'unknown.passthrough.test']);
    } finally {
      client4.close();
      await resolver.close();
    }
  });

  it('resolves the SOCKS5 proxy endpoint hostname through the host resolver: the flow reaches the proxy', async () => {
    const proxy = emu.current.proxy!;
    await client.post('/api/v1/credential-sources', { name: 'src', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'proxy-user', password: 'proxy-pass' } } });
    const id = await claim(client);
    const policy = docsPolicy('src');
    policy.egress.proxy.address = `corp-proxy.test:${proxy.port}`;
    expect((await client.put(`/api/v1/sandboxes/${id}/network`, policy)).status).toBe(200);

    const ingress = emu.current.sandbox(id).view()!.ingress!.socks5;
    const answer = await httpsGet(await viaIngress(ingress, 'api.internal.example.com', 443), 'api.internal.example.com', '/v1/ping');
    expect(answer.status).toBe(200);
    expect(proxy.connections.list()).toMatchObject([{ atyp: 'domain', host: 'api.internal.example.com', port: 443, user: 'proxy-user', replyCode: 0 }]);
    const result = await waitForEvent(emu.current, (e) => e.sandbox_id === id && e.phase === 'result');
    expect(result.attributes).toMatchObject({ outcome: 'completed', route: 'proxy', proxy_address: `corp-proxy.test:${proxy.port}` });
    expect(calls).toEqual(['corp-proxy.test']);
  });
});

describe('with passthrough off (the default)', () => {
  const emu = useEmulator({ platformDns: { lookup: fakeLookup } });
  const client = api(() => emu.current);

  beforeEach(() => {
    calls.length = 0;
  });

  it('leaves a name without a record unresolvable, as before, and never asks the host', async () => {
    expect((await client.get('/_emulator/info')).json.data.platformDns).toEqual({ passthrough: false });
    const id = await claim(client);
    const dry = await client.post(`/_emulator/sandboxes/${id}/evaluate`, { host: 'svc.passthrough.test', port: 443 });
    expect(dry.json.data).toMatchObject({ flowStarts: false, action: 'deny', reason: 'sandbox_resolution_failed' });
    await expect(emu.current.sandbox(id).connect({ host: 'svc.passthrough.test', port: 443 })).rejects.toThrow(`getaddrinfo ENOTFOUND svc.passthrough.test (inside sandbox ${id})`);
    expect(emulatorInternals(emu.current).runtime.resolverAnswer(id, 'svc.passthrough.test')).toBeUndefined();
    expect(calls).toEqual([]);
  });

  it('fails a flow whose proxy endpoint hostname has no record at proxy_resolve, as before', async () => {
    const id = await claim(client);
    const policy = { mode: 'allow-all', egress: { proxy: { type: 'socks5', address: 'corp-proxy.test:1080' } } };
    expect((await client.put(`/api/v1/sandboxes/${id}/network`, policy)).status).toBe(200);
    const { socket, flow } = await emulatorInternals(emu.current).runtime.connectFlow(id, { host: 'api.internal.example.com', port: 443 });
    socket.on('error', () => {});
    socket.end('hello');
    expect(await flow).toMatchObject({ outcome: 'error', step: 'proxy_resolve', error: 'egress proxy host corp-proxy.test does not resolve in the platform DNS view' });
    expect(calls).toEqual([]);
  });
});
