import dgram from 'node:dgram';
import net from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { api, useEmulator, waitForEvent } from '../../helpers/emulator.js';
import { clientHello, sendAndCollect, viaIngress } from '../../helpers/sandbox-client.js';
import { emulatorInternals } from '../../../src/internals.js';

/**
 * The policy lifecycle, as ctld runs it: a policy is compiled when it is applied (on PUT here), and a
 * later policy that the API accepts but the compiler rejects leaves the previous compiled policy in
 * force (ctld policy/store.go ReconcileSandboxes: the failed entry is skipped, the old one kept). A
 * policy applied with another hash closes the flows the old one admitted (newer upstream
 * proxy/active_flows.go).
 */

// A loopback service the allowed flows reach directly (a platform `ip:port` record routes to it).
let echo: net.Server;
let echoPort = 0;
const openEchoSockets = new Set<net.Socket>();
beforeAll(async () => {
  echo = net.createServer((s) => {
    openEchoSockets.add(s);
    s.on('error', () => {});
    s.on('close', () => openEchoSockets.delete(s));
    s.on('data', (d) => s.write(d));
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  echoPort = (echo.address() as net.AddressInfo).port;
});
afterAll(async () => {
  for (const s of openEchoSockets) s.destroy();
  await new Promise((r) => echo.close(r));
});

const emu = useEmulator();
const client = api(() => emu.current);

beforeEach(async () => {
  await emu.current.reset();
});

/** Accepted by the API (the address is not blank), rejected by ctld's compiler (no port). */
const uncompilable = { mode: 'allow-all', egress: { proxy: { type: 'socks5', address: 'proxy.example.com' } } };

async function claim(): Promise<{ id: string; ingress: string }> {
  const id = (await client.post('/api/v1/sandboxes', { template: 'default' })).json.data.sandbox_id as string;
  return { id, ingress: emu.current.sandbox(id).view()!.ingress!.socks5 };
}

async function tlsFlowResult(id: string, ingress: string) {
  const before = new Set(emu.current.flows({ sandboxId: id }).map((e) => e.attributes.flow_id));
  const r = await sendAndCollect(await viaIngress(ingress, 'api.internal.example.com', 443), await clientHello('api.internal.example.com'));
  const result = await waitForEvent(emu.current, (e) => e.sandbox_id === id && e.phase === 'result' && !before.has(e.attributes.flow_id));
  return { received: r.received, result };
}

describe('a policy that does not compile leaves the previous one enforced', () => {
  it('keeps a block-all policy enforced on a live flow after an accepted-but-uncompilable PUT', async () => {
    const { id, ingress } = await claim();
    const first = await client.put(`/api/v1/sandboxes/${id}/network`, { mode: 'block-all' });
    expect(first.status).toBe(200);
    expect(first.headers.get('warning')).toBeNull();

    // Upstream: 200 (the manager validated it; ctld only logs the compile failure).
    const second = await client.put(`/api/v1/sandboxes/${id}/network`, uncompilable);
    expect(second.status).toBe(200);
    expect(second.json.data).toEqual(uncompilable);
    expect(second.headers.get('warning')).toContain('did not compile (compile egress proxy: address must be in host:port form');
    expect(second.headers.get('warning')).toContain('the previous policy stays enforced');
    // GET answers what was stored, as upstream (the annotation), not what is enforced.
    expect((await client.get(`/api/v1/sandboxes/${id}/network`)).json.data).toEqual(uncompilable);

    const { received, result } = await tlsFlowResult(id, ingress);
    expect(received.length).toBe(0);
    expect(result.attributes).toMatchObject({ action: 'deny', outcome: 'denied', host: 'api.internal.example.com' });
    expect(['l4_denied', 'l7_denied']).toContain(result.attributes.reason);
    expect(result.attributes.emulator_note).toContain('the latest network policy did not compile');

    // A later valid policy replaces it, and the note goes.
    expect((await client.put(`/api/v1/sandboxes/${id}/network`, { mode: 'allow-all' })).headers.get('warning')).toBeNull();
    const after = await tlsFlowResult(id, ingress);
    expect(after.result.attributes.action).not.toBe('deny');
    expect(after.result.attributes).not.toHaveProperty('emulator_note');
  });

  it('answers 200 with a header-safe Warning when the compile error quotes non-ASCII input', async () => {
    const { id } = await claim();
    // Header values are bytes: a raw non-ASCII character in the Warning made the PUT a 500.
    const put = await client.put(`/api/v1/sandboxes/${id}/network`, { mode: 'allow-all', egress: { proxy: { type: 'socks5', address: 'prøxy.example.com' } } });
    expect(put.status).toBe(200);
    expect(put.headers.get('warning')).toContain('did not compile');
    expect(put.headers.get('warning')).toMatch(/^[\x20-\x7e]+$/);
  });

  it('keeps the policy compiled at claim when the first PUT does not compile', async () => {
    const { id, ingress } = await claim();
    const put = await client.put(`/api/v1/sandboxes/${id}/network`, { ...uncompilable, mode: 'block-all' });
    expect(put.status).toBe(200);
    // The template's policy (none: allow-all) was compiled at claim, so that is what is kept.
    expect(put.headers.get('warning')).toContain('the previous policy stays enforced');
    const { result } = await tlsFlowResult(id, ingress);
    expect(result.attributes.action).toBe('use-adapter');
  });
});

describe('a policy change closes the flows the old policy admitted', () => {
  /** A sandbox whose policy allows TCP to the echo service by its platform endpoint record. */
  async function echoSandbox() {
    await client.put('/_emulator/dns/platform', { records: { ...(await client.get('/_emulator/dns/platform')).json.data.records, 'echo.internal.example.com': ['198.18.0.77'], '198.18.0.77:7000': [`127.0.0.1:${echoPort}`] } });
    const { id, ingress } = await claim();
    const allowEcho = { name: 'allow-echo', action: 'allow', cidrs: ['198.18.0.77/32'], ports: [{ port: 7000, protocol: 'tcp' }] };
    const put = await client.put(`/api/v1/sandboxes/${id}/network`, { mode: 'allow-all', egress: { trafficRules: [allowEcho] } });
    expect(put.status).toBe(200);
    return { id, ingress, allowEcho };
  }

  const head = 'GET / HTTP/1.1\r\nHost: echo.internal.example.com:7000\r\n\r\n';
  /** Reads from the socket until `n` bytes came back. */
  const readN = (socket: net.Socket, n: number) =>
    new Promise<string>((resolve) => {
      let got = '';
      const onData = (d: Buffer) => {
        got += d.toString();
        if (got.length < n) return;
        socket.off('data', onData);
        resolve(got);
      };
      socket.on('data', onData);
    });
  /** Opens a long-lived HTTP flow to the echo service (allowed by the rule) and checks it relays. */
  async function openFlow(ingress: string) {
    const socket = await viaIngress(ingress, '198.18.0.77', 7000);
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', () => {});
    const echoed = readN(socket, head.length);
    socket.write(head);
    expect(await echoed).toBe(head);
    return { socket, closed };
  }

  it('closes a long-lived allowed flow when a PUT removes its rule, with a normal result event', async () => {
    const { id, ingress } = await echoSandbox();
    const { closed } = await openFlow(ingress);
    const attempt = await waitForEvent(emu.current, (e) => e.sandbox_id === id && e.phase === 'attempt' && e.attributes.dest_port === 7000);
    expect(emulatorInternals(emu.current).gateway.activeFlows()).toBe(1);

    const put = await client.put(`/api/v1/sandboxes/${id}/network`, { mode: 'block-all' });
    expect(put.status).toBe(200);
    await closed;
    const result = await waitForEvent(emu.current, (e) => e.phase === 'result' && e.attributes.flow_id === attempt.attributes.flow_id);
    // Upstream closes the flow's sockets; its relay ends without an error (closed connections are not
    // relay failures there), so the result is a normal completed one.
    expect(result.attributes).toMatchObject({ action: 'use-adapter', reason: 'allowed', outcome: 'completed', egress_bytes: head.length, ingress_bytes: head.length });
    expect(result.attributes).not.toHaveProperty('error_step');
    expect(result.attributes.emulator_note).toContain("network policy changed after this flow was admitted");
    // And a new flow is decided by the new policy.
    const socket = await viaIngress(ingress, '198.18.0.77', 7000);
    expect((await sendAndCollect(socket, head)).received.length).toBe(0);
  });

  it('keeps the flow when the PUT applies the same policy, and when the new policy does not compile', async () => {
    const { id, ingress, allowEcho } = await echoSandbox();
    const { socket, closed } = await openFlow(ingress);
    let isClosed = false;
    void closed.then(() => (isClosed = true));
    await client.put(`/api/v1/sandboxes/${id}/network`, { mode: 'allow-all', egress: { trafficRules: [allowEcho] } });
    const bad = await client.put(`/api/v1/sandboxes/${id}/network`, { mode: 'allow-all', egress: { trafficRules: [allowEcho], proxy: { type: 'socks5', address: 'proxy.example.com' } } });
    expect(bad.headers.get('warning')).toContain('did not compile');
    const echoed = readN(socket, 6);
    socket.write('still\n');
    expect(await echoed).toBe('still\n');
    expect(isClosed).toBe(false);
    socket.end();
    await closed;
  });

  it('closes every flow the old policy admitted, including ones the new policy still allows (upstream binds flows to the policy incarnation)', async () => {
    const { id, ingress, allowEcho } = await echoSandbox();
    const { closed } = await openFlow(ingress);
    await client.put(`/api/v1/sandboxes/${id}/network`, { mode: 'allow-all', egress: { trafficRules: [{ ...allowEcho, name: 'renamed' }] } });
    await closed;
  });

  it('ends the UDP sessions the old policy admitted, with their result', async () => {
    const udpEcho = dgram.createSocket('udp4');
    udpEcho.on('message', (m, from) => udpEcho.send(m, from.port, from.address));
    await new Promise<void>((r) => udpEcho.bind(0, '127.0.0.1', () => r()));
    try {
      const records = (await client.get('/_emulator/dns/platform')).json.data.records;
      await client.put('/_emulator/dns/platform', { records: { ...records, '198.18.0.78:7001': [`127.0.0.1:${udpEcho.address().port}`] } });
      const { id } = await claim();
      expect((await client.put(`/api/v1/sandboxes/${id}/network`, { mode: 'allow-all' })).status).toBe(200);
      const sent = await emu.current.sandbox(id).sendDatagram({ ip: '198.18.0.78', port: 7001, data: Buffer.from('datagram') });
      expect(sent).toMatchObject({ outcome: 'sent' });
      const flowId = (sent as { flowId: string }).flowId;
      expect(emu.current.flows({ sandboxId: id }).filter((e) => e.attributes.flow_id === flowId).map((e) => e.phase)).toEqual(['attempt']);
      await client.put(`/api/v1/sandboxes/${id}/network`, { mode: 'block-all' });
      const result = await waitForEvent(emu.current, (e) => e.phase === 'result' && e.attributes.flow_id === flowId);
      expect(result.attributes).toMatchObject({ transport: 'udp', outcome: 'completed' });
      expect(result.attributes.emulator_note).toContain('network policy changed after this flow was admitted');
    } finally {
      udpEcho.close();
    }
  });

  it('closes the flows of a deleted sandbox', async () => {
    const { id, ingress } = await echoSandbox();
    const { closed } = await openFlow(ingress);
    expect((await client.delete(`/api/v1/sandboxes/${id}`)).status).toBe(200);
    await closed;
  });
});
