import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../../src/policy/compile.js';
import type { CompiledPolicy } from '../../../src/policy/compiled-policy.js';
import { evaluate, type FlowFacts } from '../../../src/policy/evaluate.js';
import { compilePlatform, emptyPlatform } from '../../../src/policy/platform.js';
import { traceRules } from '../../../src/policy/rule-trace.js';
import { appProtocols, type AppProtocol, type SandboxNetworkPolicy, type TrafficRule } from '../../../src/policy/types.js';
import { prng as rng } from '../../helpers/fuzz.js';

function compiled(policy: SandboxNetworkPolicy): CompiledPolicy {
  const r = compilePolicy(policy);
  if (!r.ok) throw new Error(r.error.message);
  return r.policy;
}

const tls = (destIp: string, host: string, destPort = 443): FlowFacts => ({ destIp, destPort, transport: 'tcp', classification: { kind: 'known', appProtocol: 'tls', host } });
const noCtx = { otherSandboxIps: new Set<string>() };

describe('traceRules', () => {
  const policy = compiled({
    mode: 'block-all',
    egress: {
      trafficRules: [
        { name: 'allow-private-api', action: 'allow', domains: ['api.internal.example.com'], ports: [{ port: 443, protocol: 'tcp' }], appProtocols: ['tls'] },
        { name: 'deny-test-net', action: 'deny', cidrs: ['198.18.0.53/32'] },
        { name: 'later', action: 'allow', domains: ['*.example.com'] },
      ],
    },
  });

  it('lists the rules tried up to the first match, each group matched or not, and the rest as not tried', () => {
    const t = traceRules(policy, emptyPlatform, tls('198.18.0.53', 'x.example.com', 8443), noCtx);
    expect(t.firstMatch).toBe(1);
    expect(t.tried.map((r) => [r.name, r.groups, r.matched])).toEqual([
      ['allow-private-api', { ports: false, domains: false, appProtocols: true }, false],
      ['deny-test-net', { cidrs: true }, true],
    ]);
    expect(t.notTried.map((r) => r.name)).toEqual(['later']);
    expect(t.tried[0]).toMatchObject({ ports: ['443/tcp'], domains: ['api.internal.example.com'], appProtocols: ['tls'], cidrs: [] });
    expect(t.notTried[0]!.domains).toEqual(['*.example.com']);
    expect(t.platformChecks).toEqual([
      { check: 'other-sandbox', hit: false },
      { check: 'platform-denied-cidr', hit: false },
      { check: 'platform-allowed-cidr', hit: false },
    ]);
  });

  it('tries every rule when none matches', () => {
    const t = traceRules(policy, emptyPlatform, tls('198.18.0.10', 'db.corp.test', 5432), noCtx);
    expect(t.firstMatch).toBe(-1);
    expect(t.tried.map((r) => r.matched)).toEqual([false, false, false]);
    expect(t.notTried).toEqual([]);
  });

  it('matches unknown traffic with no host and no protocol, as the evaluator does', () => {
    const t = traceRules(policy, emptyPlatform, { destIp: '198.18.0.10', destPort: 443, transport: 'tcp', classification: { kind: 'unknown', reason: 'missing_sni' } }, noCtx);
    expect(t.probe).toMatchObject({ host: '', appProtocol: '' });
    expect(t.tried[0]!.groups).toEqual({ ports: true, domains: false, appProtocols: false });
  });

  it('stops at a platform check (another sandbox, a platform CIDR) before any rule', () => {
    const other = traceRules(policy, emptyPlatform, tls('198.18.5.5', 'api.internal.example.com'), { otherSandboxIps: new Set(['198.18.5.5']) });
    expect(other.platformChecks).toEqual([{ check: 'other-sandbox', hit: true }]);
    expect(other.tried).toEqual([]);
    expect(other.notTried).toHaveLength(3);
    const own = traceRules(policy, emptyPlatform, tls('198.18.5.5', 'api.internal.example.com'), { otherSandboxIps: new Set(['198.18.5.5']), sourceIp: '198.18.5.5' });
    expect(own.platformChecks[0]).toEqual({ check: 'other-sandbox', hit: false });
    const p = compilePlatform({ deniedCidrs: ['198.18.0.0/24'] });
    if (!p.ok) throw new Error(p.error.message);
    const denied = traceRules(policy, p.platform, tls('198.18.0.10', 'api.internal.example.com'), noCtx);
    expect(denied.platformChecks.at(-1)).toEqual({ check: 'platform-denied-cidr', hit: true });
    expect(denied.firstMatch).toBe(-1);
  });

  it('does not run without a destination port (ctld skips the destination phase)', () => {
    const t = traceRules(policy, emptyPlatform, tls('198.18.0.10', 'api.internal.example.com', 0), noCtx);
    expect(t.destinationPhase).toBe(false);
    expect(t.tried).toEqual([]);
  });
});


describe('traceRules agrees with the evaluator (random policies and flows)', () => {
  it('names the rule evaluate() matched, and none when it matched none', () => {
    const r = rng(18);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(r() * items.length)]!;
    const names = ['a.example.com', 'b.example.com', 'example.com', 'api.internal.example.com', 'x.test'];
    let compared = 0;
    for (let p = 0; p < 200; p++) {
      const rules: TrafficRule[] = Array.from({ length: 1 + Math.floor(r() * 6) }, (_, i) => {
        const rule: TrafficRule = { name: `r${i}`, action: r() < 0.5 ? 'allow' : 'deny' };
        if (r() < 0.4) rule.cidrs = [`198.18.${Math.floor(r() * 3)}.0/${pick([16, 24, 32])}`];
        if (r() < 0.5) rule.ports = [{ port: pick([22, 80, 443]), ...(r() < 0.3 ? { protocol: 'udp' } : {}) }];
        if (r() < 0.5) rule.domains = [(r() < 0.5 ? '*.' : '') + pick(names)];
        if (r() < 0.3) rule.appProtocols = [pick(appProtocols)];
        if (!rule.cidrs && !rule.ports && !rule.domains && !rule.appProtocols) rule.ports = [{ port: 80 }];
        return rule;
      });
      const policy = compiled({ mode: r() < 0.5 ? 'block-all' : 'allow-all', egress: { trafficRules: rules } });
      for (let f = 0; f < 40; f++) {
        const known = r() < 0.8;
        const flow: FlowFacts = {
          destIp: `198.18.${Math.floor(r() * 3)}.${Math.floor(r() * 3)}`,
          destPort: pick([22, 80, 443, 8443]),
          transport: r() < 0.8 ? 'tcp' : 'udp',
          classification: known ? { kind: 'known', appProtocol: pick(appProtocols) as AppProtocol, ...(r() < 0.8 ? { host: pick(names) } : {}) } : { kind: 'unknown', reason: 'unclassified' },
        };
        const decision = evaluate(policy, emptyPlatform, flow, noCtx);
        const trace = traceRules(policy, emptyPlatform, flow, noCtx);
        expect(trace.firstMatch, JSON.stringify({ rules, flow })).toBe(decision.matchedRuleIndex ?? -1);
        expect(trace.tried.filter((t) => t.matched).length).toBe(trace.firstMatch >= 0 ? 1 : 0);
        compared++;
      }
    }
    expect(compared).toBe(8000);
  });
});
