// Property test: the indexed first-match matcher agrees with a naive linear scan written straight from
// the reference semantics, on random policies and flows (seeded, bounded).
import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../../src/policy/compile.js';
import { DomainIndex, type DomainPattern } from '../../../src/policy/domain-index.js';
import { appProtocolBit, type RuleProbe } from '../../../src/policy/match.js';
import type { CompiledTrafficRule } from '../../../src/policy/compiled-policy.js';
import { appProtocols, type AppProtocol, type TrafficRule } from '../../../src/policy/types.js';
import { prng as rng } from '../../helpers/fuzz.js';

const POLICIES = 150;
const FLOWS_PER_POLICY = 60;


const labels = ['a', 'b', 'example', 'com', 'x', 'api', 'xn--bcher-kva', ''];
const pick = <T>(r: () => number, items: readonly T[]): T => items[Math.floor(r() * items.length)]!;

function randomName(r: () => number): string {
  const n = 1 + Math.floor(r() * 4);
  let name = Array.from({ length: n }, () => pick(r, labels)).join('.');
  if (r() < 0.1) name += '.';
  if (r() < 0.1) name = name.toUpperCase();
  return name;
}

function randomRule(r: () => number, i: number): TrafficRule {
  const rule: TrafficRule = { name: `r${i}`, action: r() < 0.5 ? 'allow' : 'deny' };
  if (r() < 0.4) rule.cidrs = [`198.18.${Math.floor(r() * 4)}.0/${pick(r, [16, 24, 30, 32])}`];
  if (r() < 0.4) {
    const port = 1 + Math.floor(r() * 10);
    rule.ports = [{ port, ...(r() < 0.5 ? { endPort: port + Math.floor(r() * 5) } : {}), ...(r() < 0.3 ? { protocol: 'udp' } : {}) }];
  }
  if (r() < 0.6) rule.domains = Array.from({ length: 1 + Math.floor(r() * 3) }, () => (r() < 0.5 ? '*.' : '') + randomName(r)).filter((d) => d !== '*.');
  if (r() < 0.3) rule.appProtocols = [pick(r, appProtocols), pick(r, appProtocols)];
  if (rule.domains !== undefined && !rule.domains.some((d) => d.trim() !== '')) delete rule.domains;
  if (!rule.cidrs && !rule.ports && !rule.domains && !rule.appProtocols) rule.ports = [{ port: 1 }];
  return rule;
}

/** Straight from reference §3.1/§3.2: no index, no bit tricks. */
function naiveDomain(host: string, patterns: readonly DomainPattern[]): boolean {
  return patterns.some((p) => host === p.pattern || (p.kind === 'suffix' && host.endsWith('.' + p.pattern)));
}

function naiveFirstMatch(rules: readonly CompiledTrafficRule[], ip: string, port: number, transport: 'tcp' | 'udp', host: string, app: AppProtocol | ''): number {
  const ipNum = ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
  for (const rule of rules) {
    if (rule.cidrs.length > 0 && !rule.cidrs.some((c) => c.family === 4 && Math.floor(ipNum / 2 ** (32 - prefix(c.mask))) === Math.floor(c.base / 2 ** (32 - prefix(c.mask))))) continue;
    if (rule.ports.length > 0 && !rule.ports.some((p) => p.protocol === transport && port >= p.start && port <= p.end)) continue;
    if (rule.domains.length > 0 && (host === '' || !naiveDomain(host, rule.domains))) continue;
    if (rule.appProtocols.length > 0 && (app === '' || !rule.appProtocols.includes(app))) continue;
    return rule.index;
  }
  return -1;
}

function prefix(mask: number): number {
  let bits = 0;
  for (let m = mask >>> 0; m & 0x80000000; m = (m << 1) >>> 0) bits++;
  return bits;
}

describe('indexed matching agrees with a naive linear scan', () => {
  it(`${POLICIES} random policies × ${FLOWS_PER_POLICY} random flows`, () => {
    const r = rng(0x5eed);
    let compared = 0;
    let matched = 0;
    for (let p = 0; p < POLICIES; p++) {
      const raw = Array.from({ length: 1 + Math.floor(r() * 40) }, (_, i) => randomRule(r, i));
      const compiled = compilePolicy({ mode: 'block-all', egress: { trafficRules: raw } });
      if (!compiled.ok) throw new Error(compiled.error.message);
      const rules = compiled.policy.trafficRules;
      const index = compiled.policy.ruleIndex;
      const domainIndex = new DomainIndex(rules.flatMap((rule) => rule.domains.map((pattern) => ({ pattern, owner: rule.index }))));
      const allPatterns = rules.flatMap((rule) => rule.domains);
      for (let f = 0; f < FLOWS_PER_POLICY; f++) {
        const ip = `198.18.${Math.floor(r() * 4)}.${Math.floor(r() * 256)}`;
        const port = 1 + Math.floor(r() * 16);
        const transport = r() < 0.3 ? 'udp' : 'tcp';
        const host = r() < 0.2 ? '' : randomName(r).toLowerCase();
        const app: AppProtocol | '' = r() < 0.2 ? '' : pick(r, appProtocols);
        const probe: RuleProbe = {
          v4: ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0),
          v6: undefined,
          port,
          transport,
          host,
          appBit: appProtocolBit(app),
        };
        const expected = naiveFirstMatch(rules, ip, port, transport, host, app);
        expect(index.firstMatch(probe), JSON.stringify({ raw, ip, port, transport, host, app })).toBe(expected);
        expect(domainIndex.matches(host)).toBe(host !== '' && naiveDomain(host, allPatterns));
        compared++;
        if (expected >= 0) matched++;
      }
    }
    expect(compared).toBe(POLICIES * FLOWS_PER_POLICY);
    // the generator must exercise both outcomes, or the comparison proves little
    expect(matched).toBeGreaterThan(compared / 10);
    expect(matched).toBeLessThan(compared);
  });
});
