import net from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator.js';
import { api, waitForEvent } from '../../helpers/emulator.js';
import { httpGet, sendAndCollect, viaIngress } from '../../helpers/sandbox-client.js';
import { emulatorInternals } from '../../../src/internals.js';

/**
 * What a sandbox can reach on the emulator's own machine through the gateway (explicit ingress): not
 * the emulator's API, the test proxy or other sandboxes' ingress ports, not a service on the host's
 * loopback or on one of the host's own addresses — unless its policy names them. This test is about
 * loopback reachability, so its destinations are loopback and this host's own addresses.
 */
let emu: Emulator;
let client: ReturnType<typeof api>;
/** A host service on loopback that records whether anything reached it. */
let service: net.Server;
let servicePort = 0;
let serviceHits = 0;

beforeAll(async () => {
  service = net.createServer((s) => {
    serviceHits++;
    s.on('error', () => {});
    s.resume(); // reads the request, so the client's FIN is seen and the socket closes
    s.end('HTTP/1.1 200 OK\r\ncontent-length: 7\r\nconnection: close\r\n\r\nservice');
  });
  await new Promise<void>((r) => service.listen(0, '127.0.0.1', () => r()));
  servicePort = (service.address() as net.AddressInfo).port;
  emu = await startEmulator({ token: 's0_local_' + 'ef'.repeat(24) });
  client = api(() => emu);
});
afterAll(async () => {
  await emu.stop();
  await new Promise((r) => service.close(r));
});
beforeEach(async () => {
  await emu.reset();
  serviceHits = 0;
});

const ingressOf = (id: string) => emu.sandbox(id).view()!.ingress!;
const portOf = (endpoint: string) => Number(endpoint.slice(endpoint.lastIndexOf(':') + 1));

async function claim(policy?: unknown): Promise<string> {
  const id = (await client.post('/api/v1/sandboxes', { template: 'default' })).json.data.sandbox_id as string;
  if (policy) expect((await client.put(`/api/v1/sandboxes/${id}/network`, policy)).status).toBe(200);
  return id;
}

/** A GET through the sandbox's SOCKS5 ingress: the bytes that came back (none when the gateway denied). */
async function getThrough(id: string, host: string, port: number, hostHeader = `${host}:${port}`): Promise<string> {
  const socket = await viaIngress(ingressOf(id).socks5, host, port);
  const { received } = await sendAndCollect(socket, `GET /healthz HTTP/1.1\r\nHost: ${hostHeader}\r\nConnection: close\r\n\r\n`);
  return received.toString();
}

const resultFor = (id: string, destIp: string, destPort: number) =>
  waitForEvent(emu, (e) => e.sandbox_id === id && e.phase === 'result' && e.attributes.dest_ip === destIp && e.attributes.dest_port === destPort);

describe('a sandbox without an explicit rule', () => {
  it('cannot reach the emulator API on loopback, by address or by a localhost hosts entry', async () => {
    const id = await claim();
    expect(await getThrough(id, '127.0.0.1', emu.port)).toBe('');
    expect((await resultFor(id, '127.0.0.1', emu.port)).attributes).toMatchObject({ action: 'deny', reason: 'emulator_port_denied', outcome: 'denied' });

    // The platform view does not know `localhost`; with a hosts entry (as a real /etc/hosts has) it is loopback again.
    emu.sandbox(id).setHosts({ localhost: ['127.0.0.1'] });
    expect(await getThrough(id, 'localhost', emu.port)).toBe('');
    const viaName = await waitForEvent(emu, (e) => e.sandbox_id === id && e.phase === 'result' && e.attributes.host === 'localhost');
    expect(viaName.attributes).toMatchObject({ action: 'deny', reason: 'emulator_port_denied', dest_ip: '127.0.0.1' });
  });

  it('cannot reach it in allow-all either, nor through the HTTP CONNECT ingress, nor as ::ffff:127.0.0.1 or 0.0.0.0', async () => {
    const id = await claim({ mode: 'allow-all', egress: { trafficRules: [{ name: 'wide', action: 'allow', cidrs: ['0.0.0.0/0'] }] } });
    const raw = net.connect(portOf(ingressOf(id).httpConnect), '127.0.0.1');
    await new Promise((r) => raw.once('connect', r));
    const { received } = await sendAndCollect(raw, `CONNECT 127.0.0.1:${emu.port} HTTP/1.1\r\nHost: 127.0.0.1:${emu.port}\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(received.toString()).toBe('HTTP/1.1 200 Connection established\r\n\r\n');
    expect((await resultFor(id, '127.0.0.1', emu.port)).attributes).toMatchObject({ action: 'deny', reason: 'emulator_port_denied', matched_rule: 'wide' });

    expect(await getThrough(id, '::ffff:127.0.0.1', emu.port)).toBe('');
    // SOCKS5 carries it as 16 bytes (ATYP IPv6), which reads back as ::ffff:7f00:1.
    expect((await resultFor(id, '::ffff:7f00:1', emu.port)).attributes.reason).toBe('emulator_port_denied');
    expect(await getThrough(id, '0.0.0.0', emu.port)).toBe('');
    expect((await resultFor(id, '0.0.0.0', emu.port)).attributes.reason).toBe('emulator_port_denied');
  });

  it('cannot reach the test proxy or another sandbox ingress port directly', async () => {
    const [id, other] = [await claim(), await claim()];
    const proxyPort = emu.proxy!.port;
    expect(await getThrough(id, '127.0.0.1', proxyPort)).toBe('');
    expect((await resultFor(id, '127.0.0.1', proxyPort)).attributes.reason).toBe('emulator_port_denied');
    const otherSocks = portOf(ingressOf(other).socks5);
    expect(await getThrough(id, '127.0.0.1', otherSocks)).toBe('');
    expect((await resultFor(id, '127.0.0.1', otherSocks)).attributes.reason).toBe('emulator_port_denied');
    expect(emu.proxy!.connections.list()).toEqual([]);
  });

  it('cannot reach a host loopback service or the host own addresses', async () => {
    const id = await claim();
    expect(await getThrough(id, '127.0.0.1', servicePort)).toBe('');
    expect((await resultFor(id, '127.0.0.1', servicePort)).attributes).toMatchObject({ action: 'deny', reason: 'host_local_denied' });
    expect(await getThrough(id, '127.0.0.2', servicePort)).toBe('');
    expect((await resultFor(id, '127.0.0.2', servicePort)).attributes.reason).toBe('host_local_denied');
    const own = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && !i.internal && i.family === 'IPv4')?.address;
    if (own) {
      expect(await getThrough(id, own, emu.port)).toBe('');
      expect((await resultFor(id, own, emu.port)).attributes.reason).toBe('emulator_port_denied');
    } else process.stderr.write('[host-reachability] no non-loopback IPv4 interface: the own-address case is not exercised\n');
    expect(serviceHits).toBe(0);
  });

  it('cannot use the proxy on this host to get there with a spoofed Host header', async () => {
    await client.post('/api/v1/credential-sources', { name: 'src', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'proxy-user', password: 'proxy-pass' } } });
    const id = await claim({
      mode: 'allow-all',
      egress: { proxy: { type: 'socks5', address: 'proxy.example.com:1080', credentialRef: 'corp-proxy' } },
      credentialBindings: [{ ref: 'corp-proxy', sourceRef: 'src', projection: { type: 'username_password', usernamePassword: {} } }],
    });
    // The Host does not resolve to the destination: allow-all passes it through with the Host as the proxy target.
    expect(await getThrough(id, '198.18.0.10', emu.port, '127.0.0.1')).toBe('');
    expect((await resultFor(id, '198.18.0.10', emu.port)).attributes).toMatchObject({ action: 'deny', reason: 'emulator_port_denied', host: '127.0.0.1' });
    expect(await getThrough(id, '198.18.0.10', servicePort, 'localhost')).toBe('');
    expect((await resultFor(id, '198.18.0.10', servicePort)).attributes).toMatchObject({ action: 'deny', reason: 'host_local_denied', host: 'localhost' });
    // The IP dialled, sent as the target when there is no host.
    const socket = await viaIngress(ingressOf(id).socks5, '127.0.0.1', servicePort);
    expect((await sendAndCollect(socket, Buffer.from([0, 1, 2, 3]))).received.length).toBe(0);
    expect((await resultFor(id, '127.0.0.1', servicePort)).attributes.reason).toBe('host_local_denied');
    expect(emu.proxy!.connections.list()).toEqual([]);
    expect(serviceHits).toBe(0);
  });

  it('says so in a dry run', async () => {
    const id = await claim();
    const dry = await client.post(`/_emulator/sandboxes/${id}/evaluate`, { ip: '127.0.0.1', port: emu.port });
    expect(dry.json.data).toMatchObject({ action: 'deny', reason: 'emulator_port_denied' });
    expect(dry.json.data.explanation).toContain("the emulator's own ports");
  });
});

describe('a sandbox whose policy names the address', () => {
  it('reaches a loopback service through an allow rule for its CIDR, not the emulator ports it does not name', async () => {
    const id = await claim({ mode: 'block-all', egress: { trafficRules: [{ name: 'local-service', action: 'allow', cidrs: ['127.0.0.1/32'], appProtocols: ['http'] }] } });
    expect((await httpGet(await viaIngress(ingressOf(id).socks5, '127.0.0.1', servicePort), `127.0.0.1:${servicePort}`)).body).toBe('service');
    expect((await resultFor(id, '127.0.0.1', servicePort)).attributes).toMatchObject({ action: 'use-adapter', outcome: 'completed', matched_rule: 'local-service', route: 'direct' });
    expect(serviceHits).toBe(1);
    expect(await getThrough(id, '127.0.0.1', emu.port)).toBe('');
    expect((await resultFor(id, '127.0.0.1', emu.port)).attributes).toMatchObject({ action: 'deny', reason: 'emulator_port_denied', matched_rule: 'local-service' });
  });

  it('reaches the emulator API only with a rule that names the address and the port', async () => {
    const id = await claim({ mode: 'block-all', egress: { trafficRules: [{ name: 'emulator-api', action: 'allow', cidrs: ['127.0.0.1/32'], ports: [{ port: emu.port, protocol: 'tcp' }] }] } });
    const answer = await getThrough(id, '127.0.0.1', emu.port);
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toContain('"status":"healthy"');
    expect((await resultFor(id, '127.0.0.1', emu.port)).attributes).toMatchObject({ action: 'use-adapter', outcome: 'completed', matched_rule: 'emulator-api' });
  });

  it('reaches a loopback service mapped by a platform endpoint record (the operator explicit route)', async () => {
    emulatorInternals(emu).gateway.platformDns.replace({ ...emulatorInternals(emu).gateway.platformDns.records(), 'svc.internal.example.com': ['198.18.0.45'], [`198.18.0.45:${servicePort}`]: [`127.0.0.1:${servicePort}`] });
    const id = await claim();
    expect((await httpGet(await viaIngress(ingressOf(id).socks5, 'svc.internal.example.com', servicePort), 'svc.internal.example.com')).body).toBe('service');
    expect((await resultFor(id, '198.18.0.45', servicePort)).attributes).toMatchObject({ outcome: 'completed', route: 'direct' });
  });
});
