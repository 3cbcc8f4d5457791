import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../../src/policy/compile.js';
import { compilePlatform, emptyPlatform } from '../../../src/policy/platform.js';
import { describeDecision, evaluate, type Decision, type EvaluateContext, type FlowFacts } from '../../../src/policy/evaluate.js';
import type { CompiledPolicy } from '../../../src/policy/compiled-policy.js';
import type { SandboxNetworkPolicy } from '../../../src/policy/types.js';

function compiled(policy: SandboxNetworkPolicy): CompiledPolicy {
  const result = compilePolicy(policy);
  if (!result.ok) throw new Error(result.error.message);
  return result.policy;
}

const noSandboxes: EvaluateContext = { otherSandboxIps: new Set() };
const tls = (destIp: string, host: string, destPort = 443): FlowFacts => ({
  destIp,
  destPort,
  transport: 'tcp',
  classification: { kind: 'known', appProtocol: 'tls', host },
});

describe('evaluate', () => {
  const docs = compiled({
    mode: 'block-all',
    egress: {
      trafficRules: [{ name: 'allow-private-api', action: 'allow', domains: ['api.internal.example.com'], ports: [{ port: 443, protocol: 'tcp' }], appProtocols: ['tls'] }],
      proxy: { type: 'socks5', address: 'proxy.example.com:1080', credentialRef: 'corp-proxy' },
    },
  });

  it('does not call the resolver for flows decided before verification', () => {
    let calls = 0;
    const ctx: EvaluateContext = { otherSandboxIps: new Set(), verifyHost: () => (calls++, { ok: false }) };
    expect(evaluate(docs, emptyPlatform, tls('198.18.0.10', 'other.example.com'), ctx).reason).toBe('l4_denied');
    expect(calls).toBe(0);
    expect(evaluate(docs, emptyPlatform, tls('198.18.0.10', 'api.internal.example.com'), ctx).reason).toBe('host_resolution_failed');
    expect(calls).toBe(1);
  });

  it('passes the normalized host to the resolver', () => {
    const seen: string[] = [];
    const ctx: EvaluateContext = { otherSandboxIps: new Set(), verifyHost: (host) => (seen.push(host), { ok: true, addresses: ['198.18.0.10'] }) };
    expect(evaluate(docs, emptyPlatform, tls('198.18.0.10', ' API.internal.example.com '), ctx).action).toBe('use-adapter');
    expect(seen).toEqual(['api.internal.example.com']);
  });

  it('stays correct when the resolver re-enters evaluate (shared scratch state)', () => {
    const ctx: EvaluateContext = {
      otherSandboxIps: new Set(),
      verifyHost: () => {
        evaluate(docs, emptyPlatform, tls('198.18.9.9', 'x.example', 22), noSandboxes);
        return { ok: true, addresses: ['198.18.0.10'] };
      },
    };
    expect(evaluate(docs, emptyPlatform, tls('198.18.0.10', 'api.internal.example.com'), ctx)).toMatchObject({ action: 'use-adapter', matchedRule: 'allow-private-api' });
  });

  it('handles IPv6 destinations without crashing and matches IPv6 CIDRs', () => {
    const v6 = compiled({ mode: 'block-all', egress: { trafficRules: [{ name: 'v6', action: 'allow', cidrs: ['2001:db8::/32'] }] } });
    const flow = (destIp: string): FlowFacts => ({ destIp, destPort: 80, transport: 'tcp', classification: { kind: 'known', appProtocol: 'http' } });
    expect(evaluate(v6, emptyPlatform, flow('2001:db8::5'), noSandboxes)).toMatchObject({ action: 'use-adapter', matchedRule: 'v6' });
    expect(evaluate(v6, emptyPlatform, flow('2001:db9::5'), noSandboxes).action).toBe('deny');
    const sandbox: EvaluateContext = { otherSandboxIps: new Set(['2001:db8::5']) };
    expect(evaluate(v6, emptyPlatform, flow('2001:DB8:0::5'), sandbox)).toMatchObject({ action: 'deny', basis: 'other-sandbox' });
  });

  it('treats an IPv4-mapped destination as IPv4 for CIDRs and the sandbox set', () => {
    const net = compiled({ mode: 'block-all', egress: { trafficRules: [{ name: 'net', action: 'allow', cidrs: ['198.18.0.0/24'] }] } });
    const flow: FlowFacts = { destIp: '::ffff:198.18.0.7', destPort: 80, transport: 'tcp', classification: { kind: 'known', appProtocol: 'http' } };
    expect(evaluate(net, emptyPlatform, flow, noSandboxes).matchedRule).toBe('net');
    expect(evaluate(net, emptyPlatform, flow, { otherSandboxIps: new Set(['198.18.0.7']) }).basis).toBe('other-sandbox');
  });

  it('no policy: known traffic uses the adapter, unknown passes through, nothing else is consulted', () => {
    const platform = compilePlatform({ deniedCidrs: ['198.18.0.0/15'], deniedDomains: ['*.example.com'] });
    if (!platform.ok) throw new Error(platform.error.message);
    const ctx: EvaluateContext = { otherSandboxIps: new Set(['198.18.0.10']), verifyHost: () => ({ ok: false }) };
    expect(evaluate(undefined, platform.platform, tls('198.18.0.10', 'a.example.com'), ctx)).toEqual({ action: 'use-adapter', reason: 'allowed', phase: 'final', basis: 'no-policy' });
    expect(
      evaluate(undefined, platform.platform, { destIp: '198.18.0.10', destPort: 1, transport: 'udp', classification: { kind: 'unknown', reason: 'missing_sni' } }, ctx),
    ).toEqual({ action: 'pass-through', reason: 'missing_sni', phase: 'unknown', basis: 'no-policy' });
  });

  it('keeps the compiled proxy on the policy', () => {
    expect(docs.proxy).toEqual({ type: 'socks5', address: 'proxy.example.com:1080', host: 'proxy.example.com', port: 1080, credentialRef: 'corp-proxy' });
  });
});

describe('describeDecision', () => {
  const cases: [Decision, RegExp][] = [
    [{ action: 'use-adapter', reason: 'allowed', phase: 'final', basis: 'traffic-rule', matchedRule: 'allow-private-api', matchedRuleIndex: 0 }, /^use-adapter \(allowed\) at final: traffic rule "allow-private-api" \(trafficRules\[0\]\) matched and allows$/],
    [{ action: 'deny', reason: 'l4_denied', phase: 'destination', basis: 'traffic-rule', matchedRule: '', matchedRuleIndex: 3 }, /an unnamed traffic rule \(trafficRules\[3\]\) matched and denies/],
    [{ action: 'deny', reason: 'l4_denied', phase: 'destination', basis: 'other-sandbox' }, /another sandbox/],
    [{ action: 'deny', reason: 'l4_denied', phase: 'destination', basis: 'block-all-default' }, /block-all: no traffic rule allows it/],
    [{ action: 'deny', reason: 'missing_sni', phase: 'unknown', basis: 'block-all-default', matchedRule: 'net', matchedRuleIndex: 0 }, /denies unclassified traffic.*"net".*TLS \(or QUIC\) without SNI/],
    [{ action: 'deny', reason: 'l7_denied', phase: 'domain', basis: 'platform-denied-domain' }, /platform denied domain/],
    [{ action: 'deny', reason: 'l7_denied', phase: 'domain', basis: 'block-all-default' }, /not a platform allowed domain/],
    [{ action: 'pass-through', reason: 'host_dest_mismatch', phase: 'verification', basis: 'host-verification' }, /does not resolve to the destination.*no credential injection/],
    [{ action: 'deny', reason: 'host_resolution_failed', phase: 'verification', basis: 'host-verification' }, /could not be resolved/],
    [{ action: 'use-adapter', reason: 'allowed', phase: 'final', basis: 'no-policy' }, /no compiled network policy/],
    [{ action: 'use-adapter', reason: 'allowed', phase: 'final', basis: 'platform-allowed-cidr' }, /platform allowed CIDR/],
    [{ action: 'use-adapter', reason: 'allowed', phase: 'final', basis: 'platform-domain-allowlist' }, /platform allowed domains/],
    [{ action: 'deny', reason: 'l4_denied', phase: 'destination', basis: 'unsupported-mode' }, /not allow-all or block-all/],
    [{ action: 'pass-through', reason: 'client_idle', phase: 'unknown', basis: 'allow-all-default' }, /allow-all.*client sent nothing/],
  ];
  it.each(cases)('%j', (decision, pattern) => {
    const text = describeDecision(decision);
    expect(text).toMatch(pattern);
    expect(text).not.toContain('\n');
  });
});
