import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator.js';
import { api, waitForEvent } from '../../helpers/emulator.js';
import { sendAndCollect, viaIngress } from '../../helpers/sandbox-client.js';
import { hasBinary, startMicrosocks, type ExternalProxy } from '../../helpers/socks-servers.js';

/**
 * Finding 2: a sandbox whose proxy is a SOCKS5 server on this machine that resolves hostnames itself
 * (microsocks does, with the host's resolver) must not reach the emulator's own API, or any
 * host-local service, by naming loopback in a form the canonical check missed: inet_aton forms
 * (127.1, 2130706433, 0x7f000001, 0, 127.0.0.01, octal parts) or a name the host's resolver (its
 * /etc/hosts included) answers with a local address.
 */
const skip = hasBinary('microsocks') ? undefined : 'microsocks is not installed';
if (skip) process.stderr.write(`[host-local-resolving-proxy skipped] ${skip}\n`);

/** A name other than localhost that the host's resolver answers with loopback (from /etc/hosts), if any. */
async function localNameFromHosts(): Promise<string | undefined> {
  let text = '';
  try {
    text = readFileSync('/etc/hosts', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [address, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (!address?.startsWith('127.')) continue;
    for (const name of names) {
      if (!name || /localhost/i.test(name)) continue;
      const found = await lookup(name, { all: true }).catch(() => []);
      if (found.some((f) => f.address.startsWith('127.'))) return name;
    }
  }
  return undefined;
}

describe.skipIf(skip !== undefined)('the host-local guard through a local resolving SOCKS5 proxy', () => {
  let emu: Emulator;
  let client: ReturnType<typeof api>;
  let socks: ExternalProxy;
  let hostsName: string | undefined;
  /** A loopback service that records whether anything reached it. */
  let service: net.Server;
  let servicePort = 0;
  let serviceHits = 0;

  beforeAll(async () => {
    socks = await startMicrosocks();
    service = net.createServer((s) => {
      serviceHits++;
      s.on('error', () => {});
      s.resume();
      s.end('HTTP/1.1 200 OK\r\ncontent-length: 7\r\nconnection: close\r\n\r\nservice');
    });
    await new Promise<void>((r) => service.listen(0, '127.0.0.1', () => r()));
    servicePort = (service.address() as net.AddressInfo).port;
    emu = await startEmulator({ token: 's0_local_' + 'c4'.repeat(24) });
    client = api(() => emu);
    hostsName = await localNameFromHosts();
    if (!hostsName) process.stderr.write('[host-local-resolving-proxy] /etc/hosts maps no name but localhost to loopback: the hosts-name case is not exercised\n');
  });
  afterAll(async () => {
    await emu?.stop();
    await socks?.stop();
    await new Promise((r) => service?.close(r));
  });
  beforeEach(() => {
    serviceHits = 0;
  });

  async function claimBehindMicrosocks(mode: 'allow-all' | 'cidr-rule'): Promise<string> {
    const name = `ms-${Math.random().toString(16).slice(2, 8)}`;
    expect((await client.post('/api/v1/credential-sources', { name, resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: socks.username, password: socks.password } } })).status).toBe(201);
    const id = (await client.post('/api/v1/sandboxes', { template: 'default' })).json.data.sandbox_id as string;
    const proxy = { type: 'socks5', address: `127.0.0.1:${socks.port}`, credentialRef: 'corp-proxy' };
    const policy =
      mode === 'allow-all'
        ? { mode: 'allow-all', egress: { proxy } }
        : { mode: 'allow-all', egress: { trafficRules: [{ name: 'net', action: 'allow', cidrs: ['198.18.0.0/15'] }], proxy } };
    const put = await client.put(`/api/v1/sandboxes/${id}/network`, {
      ...policy,
      credentialBindings: [{ ref: 'corp-proxy', sourceRef: name, projection: { type: 'username_password', usernamePassword: {} } }],
    });
    expect(put.status, JSON.stringify(put.json)).toBe(200);
    return id;
  }

  /** A GET to 198.18.0.53:port whose Host names `hostHeader`: the bytes that came back, and the flow's result. */
  async function get(id: string, port: number, hostHeader: string) {
    const socket = await viaIngress(emu.sandbox(id).view()!.ingress!.socks5, '198.18.0.53', port);
    const { received } = await sendAndCollect(socket, `GET /healthz HTTP/1.1\r\nHost: ${hostHeader}:${port}\r\nConnection: close\r\n\r\n`);
    const result = await waitForEvent(emu, (e) => e.sandbox_id === id && e.phase === 'result' && e.attributes.dest_port === port && String(e.attributes.host).toLowerCase() === hostHeader.toLowerCase());
    return { received: received.toString(), result: result.attributes };
  }

  const numericForms = ['127.1', '2130706433', '0x7f000001', '0', '127.0.0.01', '0177.0.0.1', '127.0.1', '0x7f.1', '0X7F.0.0.1'];

  it.each(numericForms)('Host %s (an inet_aton form of loopback) does not reach the emulator API through the proxy (allow-all)', async (form) => {
    const id = await claimBehindMicrosocks('allow-all');
    const { received, result } = await get(id, emu.port, form);
    expect(received).toBe('');
    expect(result).toMatchObject({ action: 'deny', reason: 'emulator_port_denied' });
  });

  it.each(numericForms.slice(0, 5))('Host %s does not reach a loopback service through the proxy (a CIDR rule matched)', async (form) => {
    const id = await claimBehindMicrosocks('cidr-rule');
    const { received, result } = await get(id, servicePort, form);
    expect(received).toBe('');
    expect(result).toMatchObject({ action: 'deny', reason: 'host_local_denied' });
    expect(serviceHits).toBe(0);
  });

  it("a name the host's resolver answers with loopback (/etc/hosts) does not reach the API or a loopback service", async () => {
    if (!hostsName) return;
    const id = await claimBehindMicrosocks('allow-all');
    const api = await get(id, emu.port, hostsName);
    expect(api.received).toBe('');
    expect(api.result).toMatchObject({ action: 'deny', reason: 'emulator_port_denied' });
    const svc = await get(id, servicePort, hostsName);
    expect(svc.received).toBe('');
    expect(svc.result).toMatchObject({ action: 'deny', reason: 'host_local_denied' });
    expect(serviceHits).toBe(0);
  });

  it('a control: the same proxy still carries a flow to a name that is not local', async () => {
    // The customer-side name resolves nowhere here, so microsocks fails the CONNECT: the flow is
    // allowed and dialled through the proxy (not denied by the guard), and fails at the proxy's reply.
    const id = await claimBehindMicrosocks('allow-all');
    const { result } = await get(id, 80, 'nothing.invalid');
    expect(result).toMatchObject({ action: 'pass-through', route: 'proxy', outcome: 'error', error_step: 'proxy_reply' });
  });
});
