import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { NetworkAuditEvent } from '../../../src/gateway/audit.js';
import { auditProtocol } from '../../../src/gateway/flow-classification.js';
import { tlsClientHello } from '../../../src/gateway/probe-payloads.js';
import { fixturesDir } from '../../../src/paths.js';
import { api, useEmulator, waitForEvent } from '../../helpers/emulator.js';
import { fuzz, type Fuzz } from '../../helpers/fuzz.js';
import { viaIngress } from '../../helpers/sandbox-client.js';

/**
 * Differential property: for seeded random policies × random flows (bytes, ports, addresses from
 * 198.18.0.0/15, hosts), the dry run (`POST /_emulator/sandboxes/{id}/evaluate` with the flow's bytes)
 * and a real flow through the sandbox's explicit ingress (TCP) or in-process UDP agree on action,
 * reason, matched rule and route. The live answer is read from the audit: the `result` of a denied
 * flow, the `attempt` of an allowed one (written before any dial). Bounded in count and time.
 */
const emu = useEmulator();
const client = api(() => emu.current);

const hosts = ['api.internal.example.com', 'svc-a.example.com', 'svc-b.example.com', 'unknown.example.net', 'Mixed.Example.COM'];
/** Platform records for some hosts (host verification); others do not resolve. */
const platformRecords = { 'svc-a.example.com': ['198.18.1.10'], 'svc-b.example.com': ['198.18.2.20'], 'mixed.example.com': ['198.18.1.10'] };
const ips = ['198.18.0.10', '198.18.1.10', '198.18.2.20', '198.18.3.30', '198.19.0.5', '198.19.255.1'];
const ports = [80, 443, 22, 5432, 6379, 8080, 53];

const cidrPool = ['198.18.0.0/15', '198.18.0.0/16', '198.18.1.0/24', '198.18.2.20/32', '198.19.0.0/16', '198.18.3.0/24'];
const domainPool = ['api.internal.example.com', '*.example.com', 'svc-a.example.com', 'svc-b.example.com', 'mixed.example.com', '*.example.net'];
// No `ssh`: a rule listing it makes the live gateway probe unknown flows' servers, which a dry run never does.
const appPool = ['http', 'tls', 'dns', 'redis', 'mongodb'];

function randomRule(f: Fuzz, i: number) {
  const rule: Record<string, unknown> = { name: `r${i}`, action: f.chance(0.6) ? 'allow' : 'deny' };
  const groups = f.between(1, 3);
  for (let g = 0; g < groups; g++) {
    switch (f.int(4)) {
      case 0:
        rule.cidrs = [f.pick(cidrPool), ...(f.chance(0.3) ? [f.pick(cidrPool)] : [])];
        break;
      case 1: {
        const port = f.pick(ports);
        rule.ports = [{ port, ...(f.chance(0.2) ? { endPort: port + f.int(100) } : {}), ...(f.chance(0.5) ? { protocol: f.pick(['tcp', 'udp', 'TCP']) } : {}) }];
        break;
      }
      case 2:
        rule.domains = [f.pick(domainPool), ...(f.chance(0.3) ? [f.pick(domainPool)] : [])];
        break;
      default:
        rule.appProtocols = [f.pick(appPool)];
    }
  }
  return rule;
}

function randomPolicy(f: Fuzz): Record<string, unknown> | null {
  if (f.chance(0.08)) return null; // never PUT: the template's (no) policy
  const mode = f.chance(0.5) ? 'allow-all' : 'block-all';
  const egress: Record<string, unknown> = {};
  if (f.chance(0.2)) {
    if (mode === 'allow-all') egress.deniedCidrs = [f.pick(cidrPool)];
    else Object.assign(egress, { allowedDomains: [f.pick(domainPool)], allowedPorts: [{ port: f.pick(ports) }] });
  } else {
    const n = f.int(4);
    if (n > 0) egress.trafficRules = Array.from({ length: n }, (_, i) => randomRule(f, i));
  }
  if (f.chance(0.3)) egress.proxy = { type: 'socks5', address: 'proxy.example.com:1080' };
  return Object.keys(egress).length ? { mode, egress } : { mode };
}

interface FlowCase {
  transport: 'tcp' | 'udp';
  ip: string;
  port: number;
  bytes: Buffer;
  label: string;
}

let helloBySni: Map<string, Buffer>;
let helloNoSni: Buffer;
const quicInitial = Buffer.from((JSON.parse(readFileSync(join(fixturesDir, 'handshakes', 'rfc-quic-initial-vectors.json'), 'utf8')) as { v1: { packet: string } }).v1.packet, 'hex');

function randomFlow(f: Fuzz): FlowCase {
  const ip = f.pick(ips);
  const port = f.pick(ports);
  if (f.chance(0.2)) {
    const kind = f.int(3);
    const bytes = kind === 0 ? quicInitial : kind === 1 ? helloBySni.get(f.pick(hosts).toLowerCase())! : f.bytes(f.between(1, 40));
    return { transport: 'udp', ip, port, bytes, label: ['quic', 'tls-datagram', 'random-datagram'][kind]! };
  }
  const host = f.pick(hosts);
  switch (f.int(10)) {
    case 9: {
      const v6 = f.pick(['[::1]', '::1', '[2001:db8::5]:80', '[::ffff:198.18.1.10]:80', 'a:b:c']);
      return { transport: 'tcp', ip, port, bytes: Buffer.from(`GET / HTTP/1.1\r\nHost: ${v6}\r\n\r\n`), label: `http ipv6 host ${v6}` };
    }
    case 0:
      return { transport: 'tcp', ip, port, bytes: helloBySni.get(host.toLowerCase())!, label: `tls ${host}` };
    case 1:
      return { transport: 'tcp', ip, port, bytes: helloNoSni, label: 'tls without sni' };
    case 2:
      return { transport: 'tcp', ip, port, bytes: Buffer.from(`GET / HTTP/1.1\r\nHost: ${host}${f.chance(0.4) ? `:${port}` : ''}\r\n\r\n`), label: `http ${host}` };
    case 3:
      return { transport: 'tcp', ip, port, bytes: Buffer.from('GET / HTTP/1.1\r\nUser-Agent: x\r\n\r\n'), label: 'http without host' };
    case 4:
      return { transport: 'tcp', ip, port, bytes: Buffer.from('SSH-2.0-OpenSSH_9.6\r\n'), label: 'ssh' };
    case 5:
      return { transport: 'tcp', ip, port, bytes: Buffer.from('*1\r\n$4\r\nPING\r\n'), label: 'redis' };
    case 6:
      return { transport: 'tcp', ip, port, bytes: helloBySni.get(host.toLowerCase())!.subarray(0, f.between(1, 40)), label: 'tls prefix' };
    case 7:
      return { transport: 'tcp', ip, port, bytes: Buffer.from(`GET http://${host}/x HTTP/1.1\r\n\r\n`), label: 'http absolute uri' };
    default:
      return { transport: 'tcp', ip, port, bytes: f.bytes(f.between(1, 64)), label: 'random bytes' };
  }
}

/** action, reason, matched rule and route of one live flow, from its audit events. */
function liveVerdict(events: NetworkAuditEvent[]) {
  const attempt = events.find((e) => e.phase === 'attempt');
  const e = attempt ?? events.find((x) => x.phase === 'result')!;
  const a = e.attributes;
  return { action: a.action, reason: a.reason, matchedRule: a.matched_rule, route: a.action === 'deny' ? undefined : a.route, protocol: a.protocol };
}

async function liveTcp(id: string, ingress: string, flow: FlowCase) {
  const before = new Set(emu.current.flows({ sandboxId: id }).map((e) => e.attributes.flow_id));
  const socket = await viaIngress(ingress, flow.ip, flow.port);
  socket.on('error', () => {});
  socket.on('data', () => {});
  // Everything the program sends, then it stops sending: the gateway classifies what it got.
  socket.end(flow.bytes);
  const first = await waitForEvent(emu.current, (e) => e.sandbox_id === id && !before.has(e.attributes.flow_id) && e.attributes.reason !== 'server_first_probe');
  socket.destroy();
  return emu.current.flows({ sandboxId: id }).filter((e) => e.attributes.flow_id === first.attributes.flow_id);
}

async function liveUdp(id: string, flow: FlowCase) {
  const out = await emu.current.sandbox(id).sendDatagram({ ip: flow.ip, port: flow.port, data: flow.bytes, timeoutMs: 0 });
  const flowId = (out as { flowId?: string }).flowId!;
  await waitForEvent(emu.current, (e) => e.attributes.flow_id === flowId);
  return emu.current.flows({ sandboxId: id }).filter((e) => e.attributes.flow_id === flowId);
}

describe('dry run and live flows agree', () => {
  beforeAll(async () => {
    helloBySni = new Map(await Promise.all(hosts.map(async (h) => [h.toLowerCase(), await tlsClientHello(h)] as const)));
    helloNoSni = await tlsClientHello(undefined);
  });

  it('on action, reason, matched rule and route for random policies × random flows', async () => {
    await emu.current.reset();
    const records = (await client.get('/_emulator/dns/platform')).json.data.records;
    expect((await client.put('/_emulator/dns/platform', { records: { ...records, ...platformRecords } })).status).toBe(200);
    const f = fuzz('dry-run-differential', { seed: 0x13a, iterations: 14, budgetMs: 60_000 });
    let compared = 0;
    const seen = new Map<string, number>();
    const flowsPerPolicy = 8;
    await f.loop(async () => {
      const policy = randomPolicy(f);
      const id = (await client.post('/api/v1/sandboxes', { template: 'default' })).json.data.sandbox_id as string;
      if (policy) {
        const put = await client.put(`/api/v1/sandboxes/${id}/network`, policy);
        expect(put.status, f.where({ policy, put: put.json })).toBe(200);
      }
      const ingress = emu.current.sandbox(id).view()!.ingress!.socks5;
      for (let k = 0; k < flowsPerPolicy; k++) {
        const flow = randomFlow(f);
        const dry = await client.post(`/_emulator/sandboxes/${id}/evaluate`, { ip: flow.ip, port: flow.port, transport: flow.transport, data: flow.bytes.toString('base64') });
        expect(dry.status, f.where(dry.json)).toBe(200);
        const d = dry.json.data;
        const events = flow.transport === 'tcp' ? await liveTcp(id, ingress, flow) : await liveUdp(id, flow);
        const live = liveVerdict(events);
        // The audit's protocol too: upstream records it for unknown flows (http, tls, udp, unknown).
        const expected = { action: d.action, reason: d.reason, matchedRule: d.matchedRule, route: d.action === 'deny' ? undefined : d.route, protocol: auditProtocol(d.classification, flow.transport) };
        expect(live, f.where({ policy, flow: { ...flow, bytes: flow.bytes.toString('base64') }, dry: d, events: events.map((e) => e.attributes) })).toEqual(expected);
        compared++;
        seen.set(`${live.action}/${live.route ?? '-'}`, (seen.get(`${live.action}/${live.route ?? '-'}`) ?? 0) + 1);
      }
      await client.delete(`/api/v1/sandboxes/${id}`);
    });
    expect(compared).toBeGreaterThanOrEqual(40);
    // The inputs reach every kind of answer (not a test of denies alone).
    for (const kind of ['deny/-', 'use-adapter/direct', 'use-adapter/proxy', 'pass-through/direct']) expect(seen.get(kind) ?? 0, `${kind} in ${JSON.stringify([...seen])}`).toBeGreaterThan(0);
  }, 120_000);
});
