import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator.js';
import type { SandboxNetworkPolicy, TrafficRule } from '../../../src/policy/types.js';
import { waitForEvent } from '../../helpers/emulator.js';
import { emulatorInternals, type EmulatorInternals } from '../../../src/internals.js';

/**
 * SSH flows and the two upstream behaviours that make them work (reference §4): the DNS snoop cache
 * (an SSH flow's host comes from the DNS answers the sandbox received, so a domain rule can match it
 * and the proxy's CONNECT names it) and the server-first probe (an SSH client waits for the server's
 * banner, so the gateway dials the server to see it). Real traffic only to loopback: a DNS responder
 * and an SSH-like server that sends its banner first; 198.18.x addresses exist only as data, mapped by
 * platform endpoint records and the test proxy's customer DNS view.
 */
const serverBanner = 'SSH-2.0-test\r\n';
const clientBanner = 'SSH-2.0-client\r\n';
const gitHost = 'git.internal.example.com';
const gitIp = '198.18.0.22';
const resolverIp = '198.18.0.53';

let emu: Emulator;
let internals: EmulatorInternals;
let sshServer: net.Server;
let sshPort = 0;
const sshSockets = new Set<net.Socket>();
const sshReceived: string[] = [];
let sshConnections = 0;
let dnsResponder: dgram.Socket;
let dnsPort = 0;

beforeAll(async () => {
  // UDP goes directly (as the platform's code sends it), so a sandbox's DNS query reaches the responder.
  emu = await startEmulator({ token: 't', udpEgress: 'direct' });
  internals = emulatorInternals(emu);
  sshServer = net.createServer((socket) => {
    sshConnections++;
    sshSockets.add(socket);
    socket.on('close', () => sshSockets.delete(socket));
    socket.on('error', () => {});
    socket.on('data', (d) => sshReceived.push(d.toString('latin1')));
    socket.write(serverBanner);
  });
  await new Promise<void>((r) => sshServer.listen(0, '127.0.0.1', () => r()));
  sshPort = (sshServer.address() as net.AddressInfo).port;

  // The customer's resolver: git.internal.example.com is a CNAME for a load balancer at 198.18.0.22.
  dnsResponder = dgram.createSocket('udp4');
  dnsResponder.on('message', (msg, rinfo) => {
    const query = dnsPacket.decode(msg);
    const question = query.questions![0]!;
    const answers: dnsPacket.Answer[] =
      question.name === gitHost
        ? [
            { type: 'CNAME', name: gitHost, ttl: 60, data: 'git-lb.internal.example.net' },
            { type: 'A', name: 'git-lb.internal.example.net', ttl: 60, data: gitIp },
          ]
        : [];
    dnsResponder.send(dnsPacket.encode({ type: 'response', id: query.id, flags: dnsPacket.RECURSION_AVAILABLE, questions: [question], answers }), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => dnsResponder.bind(0, '127.0.0.1', () => r()));
  dnsPort = dnsResponder.address().port;
});

afterAll(async () => {
  for (const s of sshSockets) s.destroy();
  await new Promise((r) => sshServer.close(r));
  dnsResponder.close();
  await emu.stop();
});

beforeEach(async () => {
  await emu.reset();
  sshConnections = 0;
  sshReceived.length = 0;
  internals.gateway.platformDns.replace({ ...internals.gateway.platformDns.records(), [`${resolverIp}:53`]: [`127.0.0.1:${dnsPort}`] });
});

const proxyBinding = {
  proxy: { type: 'socks5', address: 'proxy.example.com:1080', credentialRef: 'corp-proxy' },
  bindings: [{ ref: 'corp-proxy', sourceRef: 'src', projection: { type: 'username_password', usernamePassword: {} } }],
};

/** A sandbox with these rules, optionally behind the test proxy (authenticated with its user). */
function sandboxWith(mode: 'allow-all' | 'block-all', trafficRules: TrafficRule[], { proxied = false } = {}): string {
  if (proxied) internals.services.credentialSources.create({ name: 'src', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'proxy-user', password: 'proxy-pass' } } });
  const id = internals.services.sandboxes.claim({ template: 'default' }).sandbox_id;
  const policy: SandboxNetworkPolicy = {
    mode,
    egress: { trafficRules, ...(proxied ? { proxy: proxyBinding.proxy } : {}) },
    ...(proxied ? { credentialBindings: proxyBinding.bindings } : {}),
  };
  internals.services.network.put(id, policy, false);
  return id;
}

/** The sandbox asks its resolver (a foreign one at 198.18.0.53) for git.internal.example.com, as `ssh git...` would. */
async function resolveGitInSandbox(id: string): Promise<void> {
  const query = dnsPacket.encode({ type: 'query', id: 9, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: gitHost }] });
  const sent = await emu.sandbox(id).sendDatagram({ ip: resolverIp, port: 53, data: query, timeoutMs: 5_000 });
  expect(sent.outcome).toBe('sent');
  if (sent.outcome !== 'sent') return;
  expect(dnsPacket.decode(sent.reply!).answers).toContainEqual(expect.objectContaining({ type: 'A', data: gitIp }));
}

/** Resolves with the first `length` bytes the socket receives. */
function readBytes(socket: net.Socket, length: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (d: Buffer) => {
      got += d.toString('latin1');
      if (got.length < length) return;
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve(got);
    };
    const onClose = () => reject(new Error(`closed after ${JSON.stringify(got)}`));
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

/** Everything the sandbox side receives until its socket closes. */
function receivedUntilClose(socket: net.Socket): Promise<string> {
  return new Promise<string>((resolve) => {
    let got = '';
    socket.on('data', (d) => (got += d));
    socket.on('close', () => resolve(got));
  });
}

const eventsOf = (flowId: string) => emu.flows().filter((e) => e.attributes.flow_id === flowId);

describe('the DNS snoop cache names SSH flows', () => {
  it('an SSH flow to an address the sandbox resolved goes through the proxy as git.internal.example.com:22 and matches the domain rule', async () => {
    emu.proxy!.customerDns = { ...emu.proxy!.customerDns, [`${gitHost}:22`]: `127.0.0.1:${sshPort}` };
    const id = sandboxWith('allow-all', [{ name: 'allow-git-ssh', action: 'allow', domains: [gitHost], ports: [{ port: 22 }], appProtocols: ['ssh'] }], { proxied: true });
    await resolveGitInSandbox(id);

    const { socket, flow } = await internals.runtime.connectFlow(id, { ip: gitIp, port: 22 });
    socket.write(clientBanner);
    expect(await readBytes(socket, serverBanner.length)).toBe(serverBanner);
    socket.end();
    const outcome = await flow;
    expect(outcome).toMatchObject({ outcome: 'completed' });

    const log = emu.proxy!.connections.list();
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ atyp: 'domain', host: gitHost, port: 22, user: 'proxy-user', replyCode: 0 });
    expect(sshReceived.join('')).toBe(clientBanner);
    const attempt = await waitForEvent(emu, (e) => e.attributes.flow_id === outcome!.flowId && e.phase === 'attempt');
    expect(attempt.attributes).toMatchObject({
      protocol: 'ssh',
      classifier_result: 'known',
      host: gitHost,
      dest_ip: gitIp,
      action: 'use-adapter',
      reason: 'allowed',
      matched_rule: 'allow-git-ssh',
      route: 'proxy',
      proxy_target_atyp: 'domain',
      proxy_target: `${gitHost}:22`,
    });
  });

  it('learns from DNS-over-TCP responses relayed to the sandbox', async () => {
    // The same resolver over TCP: one length-prefixed response per query.
    const tcpDns = net.createServer((s) => {
      s.on('error', () => {});
      s.once('data', (d) => {
        const query = dnsPacket.decode(d.subarray(2));
        const answer = dnsPacket.encode({
          type: 'response',
          id: query.id,
          flags: dnsPacket.RECURSION_AVAILABLE,
          questions: query.questions,
          answers: [
            { type: 'CNAME', name: gitHost, ttl: 60, data: 'git-lb.internal.example.net' },
            { type: 'A', name: 'git-lb.internal.example.net', ttl: 60, data: gitIp },
          ],
        });
        // Cut in two writes, so the relay sees the message in pieces.
        const framed = Buffer.concat([Buffer.from([answer.length >> 8, answer.length & 0xff]), answer]);
        s.write(framed.subarray(0, 5));
        setImmediate(() => s.end(framed.subarray(5)));
      });
    });
    await new Promise<void>((r) => tcpDns.listen(0, '127.0.0.1', () => r()));
    try {
      internals.gateway.platformDns.replace({ ...internals.gateway.platformDns.records(), [`${resolverIp}:53`]: [`127.0.0.1:${(tcpDns.address() as net.AddressInfo).port}`] });
      const id = sandboxWith('allow-all', []);
      const { socket, flow } = await internals.runtime.connectFlow(id, { ip: resolverIp, port: 53 });
      const query = dnsPacket.encode({ type: 'query', id: 3, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: gitHost }] });
      socket.write(Buffer.concat([Buffer.from([0, query.length]), query]));
      socket.resume();
      const outcome = await flow;
      expect(outcome).toMatchObject({ outcome: 'completed' });
      expect(eventsOf(outcome!.flowId).at(-1)!.attributes).toMatchObject({ protocol: 'dns', host: gitHost });
      expect(internals.gateway.dnsSnoop.lookup(id, gitIp)).toBe(gitHost);
    } finally {
      await new Promise((r) => tcpDns.close(r));
    }
  });

  it('forgets a sandbox\'s answers when it is deleted, and every sandbox\'s on reset', async () => {
    const rules: TrafficRule[] = [{ name: 'allow-git-ssh', action: 'allow', domains: [gitHost], ports: [{ port: 22 }], appProtocols: ['ssh'] }];
    const deleted = sandboxWith('allow-all', rules);
    const kept = sandboxWith('allow-all', rules);
    await resolveGitInSandbox(deleted);
    await resolveGitInSandbox(kept);
    expect(internals.gateway.dnsSnoop.lookup(deleted, gitIp)).toBe(gitHost);
    internals.services.sandboxes.delete(deleted);
    expect(internals.gateway.dnsSnoop.lookup(deleted, gitIp)).toBeUndefined();
    expect(internals.gateway.dnsSnoop.lookup(kept, gitIp)).toBe(gitHost);
    await emu.reset();
    expect(internals.gateway.dnsSnoop.lookup(kept, gitIp)).toBeUndefined();
  });
});

describe('the server-first probe', () => {
  it('with appProtocols [ssh] in a rule, an idle client gets the server banner: probe attempt, then the flow is allowed as ssh', async () => {
    internals.gateway.platformDns.replace({ ...internals.gateway.platformDns.records(), '198.18.0.23:22': [`127.0.0.1:${sshPort}`] });
    const id = sandboxWith('block-all', [{ name: 'allow-ssh', action: 'allow', cidrs: ['198.18.0.23/32'], ports: [{ port: 22 }], appProtocols: ['ssh'] }]);

    const { socket, flow } = await internals.runtime.connectFlow(id, { ip: '198.18.0.23', port: 22 });
    // The client sends nothing until it has the server's banner, as an SSH client does.
    expect(await readBytes(socket, serverBanner.length)).toBe(serverBanner);
    socket.write(clientBanner);
    await expect.poll(() => sshReceived.join('')).toBe(clientBanner);
    socket.end();
    const outcome = await flow;
    expect(outcome).toMatchObject({ outcome: 'completed' });
    // The probed connection is the flow's: the server was dialled once.
    expect(sshConnections).toBe(1);

    const events = eventsOf(outcome!.flowId);
    expect(events.map((e) => [e.phase, e.attributes.reason])).toEqual([
      ['attempt', 'server_first_probe'],
      ['attempt', 'allowed'],
      ['result', 'allowed'],
    ]);
    expect(events[0]!.attributes).toMatchObject({ protocol: 'ssh', classifier_result: 'unknown', dest_ip: '198.18.0.23', dest_port: 22, route: 'direct', outcome: 'accepted' });
    expect(events[2]!.attributes).toMatchObject({ protocol: 'ssh', classifier_result: 'known', action: 'use-adapter', matched_rule: 'allow-ssh', outcome: 'completed', ingress_bytes: serverBanner.length, egress_bytes: clientBanner.length });
  });

  it('probes through the proxy by the snooped name, and reuses that proxied connection', async () => {
    emu.proxy!.customerDns = { ...emu.proxy!.customerDns, [`${gitHost}:22`]: `127.0.0.1:${sshPort}` };
    const id = sandboxWith('block-all', [{ name: 'allow-git-ssh', action: 'allow', domains: [gitHost], ports: [{ port: 22 }], appProtocols: ['ssh'] }], { proxied: true });
    // block-all denies the foreign resolver's datagram (unknown UDP); the sandbox learnt the name some other way.
    internals.gateway.dnsSnoop.record(id, gitIp, gitHost, 60);

    const { socket, flow } = await internals.runtime.connectFlow(id, { ip: gitIp, port: 22 });
    expect(await readBytes(socket, serverBanner.length)).toBe(serverBanner);
    socket.end();
    const outcome = await flow;
    expect(outcome).toMatchObject({ outcome: 'completed' });
    const log = emu.proxy!.connections.list();
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ atyp: 'domain', host: gitHost, port: 22, user: 'proxy-user' });
    const events = eventsOf(outcome!.flowId);
    expect(events[0]!.attributes).toMatchObject({ reason: 'server_first_probe', protocol: 'ssh', host: gitHost, route: 'proxy', proxy_target: `${gitHost}:22`, auth_resolved: true });
    expect(events.at(-1)!.attributes).toMatchObject({ reason: 'allowed', matched_rule: 'allow-git-ssh', outcome: 'completed' });
  });

  it('a server that is not SSH leaves the flow unknown: the probe is closed and the flow decided as before', async () => {
    const notSsh = net.createServer((s) => {
      s.on('error', () => {});
      s.end('220 smtp.example.com ESMTP\r\n');
    });
    await new Promise<void>((r) => notSsh.listen(0, '127.0.0.1', () => r()));
    try {
      internals.gateway.platformDns.replace({ ...internals.gateway.platformDns.records(), '198.18.0.25:25': [`127.0.0.1:${(notSsh.address() as net.AddressInfo).port}`] });
      const id = sandboxWith('block-all', [{ name: 'allow-ssh', action: 'allow', cidrs: ['198.18.0.25/32'], appProtocols: ['ssh'] }]);
      const { socket, flow } = await internals.runtime.connectFlow(id, { ip: '198.18.0.25', port: 25 });
      const closed = receivedUntilClose(socket);
      const outcome = await flow;
      // Unknown traffic is matched with no protocol, so the ssh rule does not match it: block-all denies it in the
      // destination phase, as without the probe.
      expect(outcome).toMatchObject({ outcome: 'denied', reason: 'l4_denied' });
      expect(await closed).toBe('');
      const events = eventsOf(outcome!.flowId);
      expect(events.map((e) => [e.phase, e.attributes.reason])).toEqual([
        ['attempt', 'server_first_probe'],
        ['result', 'l4_denied'],
      ]);
      expect(events[1]!.attributes).toMatchObject({ classifier_result: 'unknown', action: 'deny', outcome: 'denied' });
      // Upstream records the protocol of unknown traffic as `unknown` (classifier.go:183 @b1f245c2).
      expect(events[1]!.attributes.protocol).toBe('unknown');
    } finally {
      await new Promise((r) => notSsh.close(r));
    }
  });

  it('without an ssh appProtocol in the policy there is no probe: the idle client is client_idle as before', async () => {
    internals.gateway.platformDns.replace({ ...internals.gateway.platformDns.records(), '198.18.0.23:22': [`127.0.0.1:${sshPort}`] });
    const id = sandboxWith('block-all', [
      { name: 'allow-tls', action: 'allow', cidrs: ['198.18.0.23/32'], appProtocols: ['tls'] },
      { name: 'allow-port', action: 'allow', cidrs: ['198.18.0.23/32'], ports: [{ port: 22 }] },
    ]);
    const { socket, flow } = await internals.runtime.connectFlow(id, { ip: '198.18.0.23', port: 22 });
    const closed = receivedUntilClose(socket);
    const outcome = await flow;
    expect(outcome).toMatchObject({ outcome: 'denied', reason: 'client_idle' });
    expect(await closed).toBe('');
    expect(sshConnections).toBe(0);
    const events = eventsOf(outcome!.flowId);
    expect(events.map((e) => [e.phase, e.attributes.reason])).toEqual([['result', 'client_idle']]);
    expect(emu.flows().some((e) => e.attributes.reason === 'server_first_probe')).toBe(false);
  });
});
