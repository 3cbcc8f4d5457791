import { describe, expect, it } from 'vitest';
import { isLoopbackHost } from '../../../src/config.js';
import { PlatformDnsView } from '../../../src/dns/views.js';
import { createDecider, type FlowInput } from '../../../src/gateway/decide.js';
import { compilePolicy } from '../../../src/policy/compile.js';
import type { CompiledPolicy } from '../../../src/policy/compiled-policy.js';
import { guardHostLocal, hostLocalPrefix, hostLocalTarget, type HostFacts } from '../../../src/policy/host-local.js';
import { parseIp } from '../../../src/policy/ip.js';
import { compilePlatform } from '../../../src/policy/platform.js';
import type { SandboxNetworkPolicy } from '../../../src/policy/types.js';

/**
 * The host-local guard: a flow that would reach this machine (loopback, the unspecified address, its
 * own addresses) needs an allow rule naming it; the emulator's own ports need the rule to name the
 * port too. allow-all, a missing policy or 0.0.0.0/0 are never enough.
 */
const apiPort = 4780;
const host: HostFacts = { addresses: new Set(['192.0.2.2', '2001:db8::2', '10.77.0.1']), emulatorPorts: new Set([apiPort]) };

function compiled(policy: SandboxNetworkPolicy): CompiledPolicy {
  const r = compilePolicy(policy);
  if (!r.ok) throw new Error(r.error.message);
  return r.policy;
}
const ip = (text: string) => parseIp(text)!;

describe('hostLocalPrefix', () => {
  it('knows loopback, the unspecified addresses, mapped forms and the host addresses', () => {
    const cases: [string, number | undefined][] = [
      ['127.0.0.1', 8],
      ['127.255.1.2', 8],
      ['::ffff:127.0.0.1', 8],
      ['::1', 128],
      ['0.0.0.0', 32],
      ['::', 128],
      ['192.0.2.2', 32],
      ['2001:db8::2', 128],
      ['198.18.0.10', undefined],
      ['128.0.0.1', undefined],
      ['126.255.255.255', undefined],
      ['2001:db8::3', undefined],
    ];
    for (const [text, prefix] of cases) expect([text, hostLocalPrefix(ip(text), host)]).toEqual([text, prefix]);
  });

  it('reads localhost names as loopback and IP literals as addresses', () => {
    expect(hostLocalTarget('localhost')).toEqual({ family: 4, v4: 0x7f000001 });
    expect(hostLocalTarget('LOCALHOST.')).toEqual({ family: 4, v4: 0x7f000001 });
    expect(hostLocalTarget('api.localhost')).toEqual({ family: 4, v4: 0x7f000001 });
    expect(hostLocalTarget('127.0.0.2')).toEqual(ip('127.0.0.2'));
    expect(hostLocalTarget('notlocalhost.example.com')).toBeUndefined();
    expect(hostLocalTarget('api.internal.example.com')).toBeUndefined();
  });
});

describe('guardHostLocal', () => {
  const rule = (cidrs: string[], ports?: number[], action: 'allow' | 'deny' = 'allow') =>
    compiled({ mode: 'allow-all', egress: { trafficRules: [{ name: 'r', action, cidrs, ...(ports ? { ports: ports.map((port) => ({ port, protocol: 'tcp' })) } : {}) }] } });

  it('leaves destinations that are not this host alone, whatever the policy', () => {
    expect(guardHostLocal(undefined, undefined, ip('198.18.0.10'), apiPort, host)).toBeUndefined();
  });

  it('denies host-local addresses without a matched allow rule (no policy, allow-all default)', () => {
    expect(guardHostLocal(undefined, undefined, ip('127.0.0.1'), 5432, host)).toBe('host_local_denied');
    expect(guardHostLocal(compiled({ mode: 'allow-all' }), undefined, ip('::1'), 5432, host)).toBe('host_local_denied');
    expect(guardHostLocal(undefined, undefined, ip('0.0.0.0'), 5432, host)).toBe('host_local_denied');
    expect(guardHostLocal(undefined, undefined, ip('192.0.2.2'), 5432, host)).toBe('host_local_denied');
    expect(guardHostLocal(undefined, undefined, ip('127.0.0.1'), apiPort, host)).toBe('emulator_port_denied');
    expect(guardHostLocal(undefined, undefined, ip('192.0.2.2'), apiPort, host)).toBe('emulator_port_denied');
  });

  it('allows a host-local address when the matched allow rule names it with a narrow CIDR', () => {
    expect(guardHostLocal(rule(['127.0.0.1/32']), 0, ip('127.0.0.1'), 5432, host)).toBeUndefined();
    expect(guardHostLocal(rule(['127.0.0.0/8']), 0, ip('127.3.2.1'), 5432, host)).toBeUndefined();
    expect(guardHostLocal(rule(['::1/128']), 0, ip('::1'), 5432, host)).toBeUndefined();
    expect(guardHostLocal(rule(['192.0.2.2/32']), 0, ip('192.0.2.2'), 5432, host)).toBeUndefined();
    expect(guardHostLocal(rule(['198.18.0.0/15', '127.0.0.1/32']), 0, ip('127.0.0.1'), 5432, host)).toBeUndefined();
  });

  it('does not count wide CIDRs, deny rules or a rule that names another address', () => {
    expect(guardHostLocal(rule(['0.0.0.0/0']), 0, ip('127.0.0.1'), 5432, host)).toBe('host_local_denied');
    expect(guardHostLocal(rule(['96.0.0.0/3']), 0, ip('127.0.0.1'), 5432, host)).toBe('host_local_denied');
    expect(guardHostLocal(rule(['::/0']), 0, ip('::1'), 5432, host)).toBe('host_local_denied');
    expect(guardHostLocal(rule(['192.0.2.0/24']), 0, ip('192.0.2.2'), 5432, host)).toBe('host_local_denied');
    expect(guardHostLocal(rule(['127.0.0.1/32'], undefined, 'deny'), 0, ip('127.0.0.1'), 5432, host)).toBe('host_local_denied');
    expect(guardHostLocal(rule(['127.0.0.2/32']), 0, ip('127.0.0.1'), 5432, host)).toBe('host_local_denied');
  });

  it('needs the rule to name ports for the emulator own ports', () => {
    expect(guardHostLocal(rule(['127.0.0.1/32']), 0, ip('127.0.0.1'), apiPort, host)).toBe('emulator_port_denied');
    expect(guardHostLocal(rule(['127.0.0.1/32'], [apiPort]), 0, ip('127.0.0.1'), apiPort, host)).toBeUndefined();
  });
});

describe('the decider applies the guard on the route a flow takes', () => {
  const platformDns = new PlatformDnsView({
    'api.internal.example.com': ['198.18.0.10'],
    '198.18.0.40:8080': ['127.0.0.1:18080'],
    'proxy.example.com:1080': ['127.0.0.1:1080'],
    'remote-proxy.example.com:1080': ['198.18.0.50:1080'],
  });
  const platform = compilePlatform({ allowedDomains: ['kube-dns'] });
  if (!platform.ok) throw new Error('platform');
  const policies = new Map<string, CompiledPolicy | undefined>();
  const decide = createDecider({
    policies: { get: (id) => (policies.has(id) ? { compiled: policies.get(id) } : undefined), close: () => {} },
    platform: () => platform.platform,
    platformDns: () => platformDns,
    sandboxIps: () => new Set(),
    udpEgress: 'reject',
    host: () => host,
  });
  const flow = (sandboxId: string, destIp: string, destPort: number, extra: Partial<FlowInput> = {}): FlowInput => ({
    sandboxId,
    destIp,
    destPort,
    transport: 'tcp',
    classification: { kind: 'unknown', reason: 'unclassified' },
    ...extra,
  });
  const http = (h: string) => ({ classification: { kind: 'known' as const, appProtocol: 'http' as const, host: h } });

  policies.set('none', undefined);
  policies.set('allow-all', compiled({ mode: 'allow-all' }));
  policies.set('explicit', compiled({ mode: 'allow-all', egress: { trafficRules: [{ name: 'local-db', action: 'allow', cidrs: ['127.0.0.1/32'], ports: [{ port: 5432, protocol: 'tcp' }] }] } }));
  policies.set('proxied', compiled({ mode: 'allow-all', egress: { proxy: { type: 'socks5', address: 'proxy.example.com:1080' } } }));
  policies.set(
    'proxied-localhost',
    compiled({
      mode: 'block-all',
      egress: { trafficRules: [{ name: 'allow-identify', action: 'allow', domains: ['localhost'], ports: [{ port: 8081, protocol: 'tcp' }], appProtocols: ['http'] }], proxy: { type: 'socks5', address: 'proxy.example.com:1080' } },
    }),
  );
  policies.set('remote-proxied', compiled({ mode: 'allow-all', egress: { proxy: { type: 'socks5', address: 'remote-proxy.example.com:1080' } } }));

  it('denies loopback and the emulator ports for a sandbox without a policy or in allow-all', () => {
    expect(decide(flow('none', '127.0.0.1', apiPort))).toMatchObject({ verdict: 'deny', reason: 'emulator_port_denied', decision: { action: 'pass-through' } });
    expect(decide(flow('allow-all', '127.0.0.1', 5432))).toMatchObject({ verdict: 'deny', reason: 'host_local_denied' });
    expect(decide(flow('allow-all', '::ffff:127.0.0.1', 5432)).verdict).toBe('deny');
    expect(decide(flow('allow-all', '127.0.0.1', 53, { transport: 'udp' }))).toMatchObject({ verdict: 'deny', reason: 'host_local_denied' });
    const v = decide(flow('allow-all', '127.0.0.1', apiPort));
    expect(v.explanation).toContain("one of the emulator's own ports");
  });

  it('lets an explicit rule through, for the port it names only', () => {
    expect(decide(flow('explicit', '127.0.0.1', 5432))).toMatchObject({ verdict: 'allow', route: 'direct', decision: { matchedRule: 'local-db' } });
    expect(decide(flow('explicit', '127.0.0.1', 5433))).toMatchObject({ verdict: 'deny', reason: 'host_local_denied' });
  });

  it('leaves platform endpoint records (the operator explicit routes) and other destinations alone', () => {
    expect(decide(flow('allow-all', '198.18.0.40', 8080))).toMatchObject({ verdict: 'allow', route: 'direct' });
    expect(decide(flow('allow-all', '198.18.0.41', 8080))).toMatchObject({ verdict: 'allow', route: 'direct' });
  });

  it('through a proxy on this host, guards the target: the IP dialled or a spoofed Host', () => {
    expect(decide(flow('proxied', '127.0.0.1', 5432))).toMatchObject({ verdict: 'deny', reason: 'host_local_denied' });
    // A Host that does not resolve to the destination is passed through with the Host as the target.
    expect(decide(flow('proxied', '198.18.0.10', apiPort, http('127.0.0.1')))).toMatchObject({ verdict: 'deny', reason: 'emulator_port_denied', decision: { action: 'pass-through', reason: 'host_dest_mismatch' } });
    expect(decide(flow('proxied', '198.18.0.10', 80, http('localhost')))).toMatchObject({ verdict: 'deny', reason: 'host_local_denied' });
    expect(decide(flow('proxied', '198.18.0.10', 443, http('api.internal.example.com')))).toMatchObject({ verdict: 'allow', route: 'proxy' });
  });

  it('through a proxy on this host, a rule whose domains matched the hostname names it', () => {
    // `localhost` resolves to nothing in the platform view: host verification fails; block-all would deny.
    const allowAllRule = compiled({
      mode: 'allow-all',
      egress: { trafficRules: [{ name: 'allow-identify', action: 'allow', domains: ['localhost'], ports: [{ port: 8081, protocol: 'tcp' }] }], proxy: { type: 'socks5', address: 'proxy.example.com:1080' } },
    });
    policies.set('proxied-localhost-allow-all', allowAllRule);
    expect(decide(flow('proxied-localhost-allow-all', '198.18.0.30', 8081, http('localhost')))).toMatchObject({ verdict: 'allow', route: 'proxy', target: { host: 'localhost', atyp: 'domain' } });
    expect(decide(flow('proxied-localhost-allow-all', '198.18.0.30', 8082, http('localhost')))).toMatchObject({ verdict: 'deny', reason: 'host_local_denied' });
    expect(decide(flow('proxied-localhost', '198.18.0.30', 8081, http('localhost')))).toMatchObject({ verdict: 'deny', reason: 'host_resolution_failed' });
  });

  it('through a proxy elsewhere, loopback is the proxy machine own: left to the proxy', () => {
    expect(decide(flow('remote-proxied', '127.0.0.1', 5432))).toMatchObject({ verdict: 'allow', route: 'proxy', target: { host: '127.0.0.1' } });
  });
});

describe('isLoopbackHost', () => {
  it('is true only for addresses reachable from this machine alone', () => {
    for (const h of ['127.0.0.1', '127.0.0.2', '127.255.255.254', 'localhost', 'LOCALHOST', '::1', '[::1]', '::ffff:127.0.0.1']) expect([h, isLoopbackHost(h)]).toEqual([h, true]);
    for (const h of ['0.0.0.0', '::', '192.0.2.2', '10.0.0.1', 'example.com', '', '::ffff:192.0.2.2']) expect([h, isLoopbackHost(h)]).toEqual([h, false]);
  });
});
