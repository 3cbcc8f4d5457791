import { describe, expect, it } from 'vitest';
import { DomainIndex, type DomainPattern } from '../../../src/policy/domain-index.js';
import { appProtocolBit, matchDomainPattern, normalizeHost, portsMatch, TrafficRuleIndex, type RuleProbe } from '../../../src/policy/match.js';
import { compilePolicy } from '../../../src/policy/compile.js';
import type { TrafficRule } from '../../../src/policy/types.js';

const suffix = (pattern: string): DomainPattern => ({ pattern, kind: 'suffix' });
const exact = (pattern: string): DomainPattern => ({ pattern, kind: 'exact' });

describe('matchDomainPattern', () => {
  it.each([
    ['example.com', suffix('example.com'), true],
    ['a.b.example.com', suffix('example.com'), true],
    ['notexample.com', suffix('example.com'), false],
    ['example.com.', suffix('example.com'), false],
    ['example.com', exact('example.com'), true],
    ['www.example.com', exact('example.com'), false],
    ['', exact(''), true],
  ])('%j vs %j → %s', (host, pattern, result) => expect(matchDomainPattern(host, pattern)).toBe(result));
});

describe('normalizeHost', () => {
  it('trims and lowercases, and returns an already-normal host unchanged', () => {
    expect(normalizeHost(' API.Example.com\t')).toBe('api.example.com');
    const host = 'api.example.com';
    expect(normalizeHost(host)).toBe(host);
    expect(normalizeHost('BÜCHER.example')).toBe('bücher.example');
  });
});

describe('portsMatch', () => {
  const ranges = [
    { protocol: 'tcp' as const, start: 80, end: 80 },
    { protocol: 'udp' as const, start: 1000, end: 2000 },
  ];
  it.each([
    [80, 'tcp', true],
    [80, 'udp', false],
    [1000, 'udp', true],
    [2000, 'udp', true],
    [2001, 'udp', false],
    [1500, 'tcp', false],
  ] as const)('%i/%s → %s', (port, transport, result) => expect(portsMatch(ranges, port, transport)).toBe(result));
});

describe('appProtocolBit', () => {
  it('gives each protocol its own bit and nothing to unknown', () => {
    const bits = (['http', 'tls', 'ssh', 'socks5', 'mqtt', 'redis', 'amqp', 'dns', 'mongodb', 'udp'] as const).map(appProtocolBit);
    expect(new Set(bits).size).toBe(10);
    expect(bits.every((b) => b > 0)).toBe(true);
    expect(appProtocolBit('')).toBe(0);
  });
});

describe('DomainIndex', () => {
  const index = new DomainIndex([
    { pattern: exact('api.example.com'), owner: 4 },
    { pattern: suffix('example.com'), owner: 2 },
    { pattern: suffix('example.com'), owner: 7 },
    { pattern: suffix('b.example.com'), owner: 1 },
    { pattern: exact('example.com.'), owner: 9 },
  ]);

  it('collects every owner list of the matching patterns (ascending within each list)', () => {
    const out: Int32Array[] = [];
    const n = index.collect('x.b.example.com', out);
    expect(out.slice(0, n).map((l) => [...l]).sort()).toEqual([[1], [2, 7]]);
    const m = index.collect('api.example.com', out);
    expect(out.slice(0, m).map((l) => [...l]).sort()).toEqual([[2, 7], [4]]);
  });

  it('matches respects dot boundaries and trailing dots', () => {
    expect(index.matches('example.com')).toBe(true);
    expect(index.matches('badexample.com')).toBe(false);
    expect(index.matches('example.com.')).toBe(true);
    expect(index.matches('x.example.com.')).toBe(false);
    expect(index.matches('')).toBe(false);
    expect(new DomainIndex().matches('example.com')).toBe(false);
  });

  it('counts patterns', () => expect(index.size).toBe(5));
});

describe('TrafficRuleIndex first match', () => {
  const rules: TrafficRule[] = [
    { name: 'ports-only', action: 'allow', ports: [{ port: 8080 }] },
    { name: 'domain-late', action: 'deny', domains: ['*.example.com'], ports: [{ port: 443 }] },
    { name: 'cidr', action: 'allow', cidrs: ['198.18.0.0/24'] },
    { name: 'domain-later', action: 'allow', domains: ['www.example.com'] },
    { name: 'app', action: 'deny', appProtocols: ['ssh'] },
  ];
  const compiled = compilePolicy({ mode: 'block-all', egress: { trafficRules: rules } });
  if (!compiled.ok) throw new Error(compiled.error.message);
  const index = compiled.policy.ruleIndex;
  const probe = (overrides: Partial<RuleProbe>): RuleProbe => ({
    v4: 0xc6120005, // 198.18.0.5
    v6: undefined,
    port: 443,
    transport: 'tcp',
    host: '',
    appBit: appProtocolBit('tls'),
    ...overrides,
  });

  it('a domain rule earlier than a plain rule wins', () => {
    expect(index.firstMatch(probe({ host: 'www.example.com' }))).toBe(1);
  });
  it('a domain candidate whose other groups fail is skipped for the next rule in order', () => {
    expect(index.firstMatch(probe({ host: 'www.example.com', port: 80 }))).toBe(2);
    expect(index.firstMatch(probe({ host: 'www.example.com', port: 80, v4: 0xc6120105 }))).toBe(3);
  });
  it('hostless flows skip domain rules', () => {
    expect(index.firstMatch(probe({ v4: 0xc6120105, appBit: appProtocolBit('ssh'), port: 22 }))).toBe(4);
  });
  it('returns -1 when nothing matches', () => {
    expect(index.firstMatch(probe({ v4: 0xc6120105, port: 22, host: 'other.test' }))).toBe(-1);
  });
  it('a plain rule earlier than the domain candidates wins', () => {
    expect(index.firstMatch(probe({ host: 'www.example.com', port: 8080 }))).toBe(0);
  });
});
