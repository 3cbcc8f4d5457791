import { describe, expect, it } from 'vitest';
import { PlatformDnsView } from '../../../src/dns/views.js';
import { createDecider } from '../../../src/gateway/decide.js';
import { dryRun } from '../../../src/gateway/dry-run.js';
import { compilePolicy } from '../../../src/policy/compile.js';
import type { CompiledPolicy } from '../../../src/policy/compiled-policy.js';
import { compilePlatform } from '../../../src/policy/platform.js';

/**
 * Dry runs answer what the live gateway would: TLS without SNI and HTTP without Host are unknown
 * (missing_sni / missing_host, denied in block-all), and a flow from a sandbox to its own address is not
 * "another sandbox" (upstream excludes the source's own IP: eval.go isOtherSandbox, @390efd4a).
 */
const own = '198.18.100.2';
const other = '198.18.100.3';
const platform = compilePlatform({ allowedDomains: ['kube-dns'] });
if (!platform.ok) throw new Error('platform');
const compile = (p: Parameters<typeof compilePolicy>[0]): CompiledPolicy => {
  const r = compilePolicy(p);
  if (!r.ok) throw new Error(r.error.message);
  return r.policy;
};
const policy = compile({ mode: 'block-all', egress: { trafficRules: [{ name: 'sandboxes', action: 'allow', cidrs: ['198.18.100.0/24'] }, { name: 'web', action: 'allow', ports: [{ port: 443 }, { port: 80 }] }] } });
const decide = createDecider({
  policies: { get: () => ({ compiled: policy }), close: () => {} },
  platform: () => platform.platform,
  platformDns: () => new PlatformDnsView({ 'api.internal.example.com': ['198.18.0.10'] }),
  sandboxIps: () => new Set([own, other]),
  udpEgress: 'reject',
  host: () => ({ addresses: new Set<string>(), emulatorPorts: new Set<number>() }),
});
const noResolve = () => undefined;

describe('dry run edges agree with the live gateway', () => {
  it('TLS without SNI is missing_sni, denied in block-all even where a rule allows the port', () => {
    const r = dryRun(decide, 'sb', noResolve, { ip: '198.18.0.10', port: 443, appProtocol: 'tls' });
    expect(r).toMatchObject({ action: 'deny', reason: 'missing_sni', classification: { kind: 'unknown', reason: 'missing_sni' } });
    // Clients never put an IP literal in SNI (RFC 6066).
    expect(dryRun(decide, 'sb', noResolve, { host: '198.18.0.10', ip: '198.18.0.10', port: 443, appProtocol: 'tls' })).toMatchObject({ reason: 'missing_sni' });
  });

  it('HTTP without Host is missing_host; a Host is normalised as the classifier does', () => {
    expect(dryRun(decide, 'sb', noResolve, { ip: '198.18.0.10', port: 80, appProtocol: 'http' })).toMatchObject({ action: 'deny', reason: 'missing_host' });
    const r = dryRun(decide, 'sb', noResolve, { host: ' API.internal.example.com:80 ', ip: '198.18.0.10', port: 80, appProtocol: 'http' });
    expect(r).toMatchObject({ action: 'use-adapter', reason: 'allowed', classification: { host: 'api.internal.example.com' } });
  });

  it('the bytes, when given, decide the classification', () => {
    const head = Buffer.from('GET / HTTP/1.1\r\nAccept: */*\r\n\r\n').toString('base64');
    expect(dryRun(decide, 'sb', noResolve, { ip: '198.18.0.10', port: 443, appProtocol: 'tls', data: head })).toMatchObject({ reason: 'missing_host' });
  });

  it('a flow to the sandbox\'s own address is not "another sandbox"; to another sandbox it is', () => {
    const toSelf = dryRun(decide, 'sb', noResolve, { host: 'api.internal.example.com', ip: own, port: 9000, appProtocol: 'redis' }, { sourceIp: own });
    expect(toSelf).toMatchObject({ action: 'use-adapter', matchedRule: 'sandboxes' });
    const toOther = dryRun(decide, 'sb', noResolve, { ip: other, port: 9000, appProtocol: 'redis' }, { sourceIp: own });
    expect(toOther).toMatchObject({ action: 'deny', reason: 'l4_denied', phase: 'destination' });
    expect(toOther.flowStarts && toOther.explanation).toContain('another sandbox');
  });
});
