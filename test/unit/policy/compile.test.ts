import { describe, expect, it } from 'vitest';
import { compilePolicy, type CompileResult } from '../../../src/policy/compile.js';
import { compilePlatform } from '../../../src/policy/platform.js';
import type { CompiledPolicy } from '../../../src/policy/compiled-policy.js';
import type { SandboxNetworkPolicy } from '../../../src/policy/types.js';

function ok(result: CompileResult): CompiledPolicy {
  if (!result.ok) throw new Error(`compile failed: ${result.error.message}`);
  return result.policy;
}

const compile = (policy: SandboxNetworkPolicy): CompiledPolicy => ok(compilePolicy(policy));

describe('compilePolicy: legacy lists', () => {
  const egress = {
    allowedCidrs: ['198.18.1.0/24'],
    allowedPorts: [{ port: 443 }],
    allowedDomains: ['*.Allowed.Example'],
    deniedCidrs: ['198.18.2.0/24'],
    deniedPorts: [{ port: 25 }],
    deniedDomains: ['denied.example'],
  };

  it('allow-all: up to three separate deny rules in order cidrs, ports, domains; allowed* ignored', () => {
    const policy = compile({ mode: 'allow-all', egress });
    expect(policy.trafficRules.map((r) => [r.index, r.name, r.action])).toEqual([
      [0, 'legacy-deny-cidrs', 'deny'],
      [1, 'legacy-deny-ports', 'deny'],
      [2, 'legacy-deny-domains', 'deny'],
    ]);
    const [cidrs, ports, domains] = policy.trafficRules;
    expect(cidrs?.cidrs.map((c) => c.text)).toEqual(['198.18.2.0/24']);
    expect([cidrs?.ports, cidrs?.domains, cidrs?.appProtocols]).toEqual([[], [], []]);
    expect(ports?.ports).toEqual([{ protocol: 'tcp', start: 25, end: 25 }]);
    expect(ports?.cidrs).toEqual([]);
    expect(domains?.domains).toEqual([{ pattern: 'denied.example', kind: 'exact' }]);
    expect(policy.hasRuleDomains).toBe(true);
  });

  it('allow-all: only the non-empty denied lists create rules', () => {
    const policy = compile({ mode: 'allow-all', egress: { deniedPorts: [{ port: 25 }] } });
    expect(policy.trafficRules.map((r) => r.name)).toEqual(['legacy-deny-ports']);
    expect(policy.trafficRules[0]?.index).toBe(0);
    expect(policy.hasRuleDomains).toBe(false);
  });

  it('block-all: one AND rule legacy-allow with every allowed group; denied* ignored', () => {
    const policy = compile({ mode: 'block-all', egress });
    expect(policy.trafficRules).toHaveLength(1);
    const rule = policy.trafficRules[0]!;
    expect([rule.name, rule.action]).toEqual(['legacy-allow', 'allow']);
    expect(rule.cidrs.map((c) => c.text)).toEqual(['198.18.1.0/24']);
    expect(rule.ports).toEqual([{ protocol: 'tcp', start: 443, end: 443 }]);
    expect(rule.domains).toEqual([{ pattern: 'allowed.example', kind: 'suffix' }]);
  });

  it('an empty mode compiles to allow-all', () => {
    expect(compile({ mode: '', egress: { deniedCidrs: ['198.18.0.0/16'] } }).mode).toBe('allow-all');
    expect(compile({ mode: '' }).mode).toBe('allow-all');
  });

  it('no egress: no rules, no proxy', () => {
    const policy = compile({ mode: 'block-all' });
    expect(policy.trafficRules).toEqual([]);
    expect(policy.proxy).toBeUndefined();
  });
});

describe('compilePolicy: traffic rules', () => {
  it('normalizes ports, domains, app protocols and names', () => {
    const policy = compile({
      mode: 'block-all',
      egress: {
        trafficRules: [
          {
            name: '  web ',
            action: 'allow',
            ports: [{ port: 80 }, { port: 8000, endPort: 8080, protocol: ' UDP ' }],
            domains: ['  *.Example.COM ', 'Exact.Example.', ' '],
            appProtocols: [' TLS', 'http ', ''],
            cidrs: ['', '198.18.0.9/24'],
          },
        ],
      },
    });
    const rule = policy.trafficRules[0]!;
    expect(rule.name).toBe('web');
    expect(rule.ports).toEqual([
      { protocol: 'tcp', start: 80, end: 80 },
      { protocol: 'udp', start: 8000, end: 8080 },
    ]);
    expect(rule.domains).toEqual([
      { pattern: 'example.com', kind: 'suffix' },
      { pattern: 'exact.example.', kind: 'exact' },
    ]);
    expect(rule.appProtocols).toEqual(['tls', 'http']);
    expect(rule.cidrs).toHaveLength(1);
    expect(rule.cidrs[0]).toMatchObject({ family: 4, text: '198.18.0.9/24' });
  });

  it('a rule with only an appProtocols matcher is valid', () => {
    expect(compile({ mode: 'allow-all', egress: { trafficRules: [{ action: 'deny', appProtocols: ['ssh'] }] } }).trafficRules).toHaveLength(1);
  });

  it('a traffic rule error names the rule with Go quoting', () => {
    const result = compilePolicy({ mode: 'block-all', egress: { trafficRules: [{ name: 'tab\there', action: 'allow', cidrs: ['x'] }] } });
    expect(result).toEqual({
      ok: false,
      error: { code: 'invalid_traffic_rule', message: 'compile egress traffic rules: parse traffic rule cidrs for "tab\\there": invalid CIDR "x"' },
    });
  });

  it('endPort above 65535 and equal to port', () => {
    const bad = compilePolicy({ mode: 'block-all', egress: { trafficRules: [{ name: 'r', action: 'allow', ports: [{ port: 80, endPort: 65536 }] }] } });
    expect(bad.ok ? '' : bad.error.message).toBe('compile egress traffic rules: parse traffic rule ports for "r": invalid end port 65536');
    const same = compile({ mode: 'block-all', egress: { trafficRules: [{ action: 'allow', ports: [{ port: 80, endPort: 80 }] }] } });
    expect(same.trafficRules[0]?.ports).toEqual([{ protocol: 'tcp', start: 80, end: 80 }]);
  });
});

describe('compilePolicy: proxy', () => {
  const withProxy = (proxy: { type: string; address: string; credentialRef?: string }): CompileResult =>
    compilePolicy({ mode: 'block-all', egress: { proxy } });

  it('keeps the compiled proxy for the gateway', () => {
    expect(ok(withProxy({ type: 'socks5', address: 'proxy.example.com:1080', credentialRef: ' corp-proxy ' })).proxy).toEqual({
      type: 'socks5',
      address: 'proxy.example.com:1080',
      host: 'proxy.example.com',
      port: 1080,
      credentialRef: 'corp-proxy',
    });
  });

  it('lowercases type and host, trims the address, normalizes the port', () => {
    expect(ok(withProxy({ type: ' Socks5 ', address: '  Proxy.Example.COM:01080 ' })).proxy).toEqual({
      type: 'socks5',
      address: 'proxy.example.com:1080',
      host: 'proxy.example.com',
      port: 1080,
    });
  });

  it('a blank credentialRef means no auth', () => {
    expect(ok(withProxy({ type: 'socks5', address: 'p:1080', credentialRef: '  ' })).proxy).not.toHaveProperty('credentialRef');
  });

  it('IPv6 hosts are bracketed in the address', () => {
    expect(ok(withProxy({ type: 'socks5', address: '[2001:DB8::1]:1080' })).proxy).toMatchObject({ host: '2001:db8::1', address: '[2001:db8::1]:1080' });
  });

  it.each([
    ['', 'compile egress proxy: address must be in host:port form: missing port in address'],
    ['p:1080:', 'compile egress proxy: address must be in host:port form: address p:1080:: too many colons in address'],
    ['[p]1080', "compile egress proxy: address must be in host:port form: address [p]1080: missing port in address"],
    ['[p]:1080]', "compile egress proxy: address must be in host:port form: address [p]:1080]: unexpected ']' in address"],
    ['p[:1080', "compile egress proxy: address must be in host:port form: address p[:1080: unexpected '[' in address"],
    ['p:-1', 'compile egress proxy: port -1 out of range'],
    ['p:99999999999999999999', 'compile egress proxy: invalid port "99999999999999999999"'],
    ['p:1 2', 'compile egress proxy: invalid port "1 2"'],
  ])('address %j fails with ctld message', (address, message) => {
    const result = withProxy({ type: 'socks5', address });
    expect(result).toEqual({ ok: false, error: { code: 'invalid_proxy', message } });
  });

  it('an empty type is quoted as ""', () => {
    const result = withProxy({ type: '', address: 'p:1080' });
    expect(result.ok ? '' : result.error.message).toBe('compile egress proxy: unsupported type ""');
  });
});

describe('compilePolicy: rules that are not enforced still fail the compile', () => {
  it.each([
    [{ protocolRules: [{ name: 'p', protocol: 'mcp' }] }, 'compile protocol rules: protocol rule "p" requires mcp config'],
    [{ protocolRules: [{ name: 'p', protocol: 'http', http: {}, mcp: {} }] }, 'compile protocol rules: protocol rule "p" cannot include mcp config for http'],
    [{ protocolRules: [{ name: 'p', protocol: 'http', http: {}, tlsMode: 'passthrough' }] }, 'compile protocol rules: unsupported protocol rule tls mode "passthrough"'],
    [{ credentialRules: [{ credentialRef: 'c', rollout: 'maybe' }] }, 'compile egress auth rules: unsupported auth rule rollout "maybe"'],
    [{ credentialRules: [{ credentialRef: 'c', protocol: 'ftp' }] }, 'compile egress auth rules: unsupported auth rule protocol "ftp"'],
    [{ credentialRules: [{ credentialRef: 'c', domains: ['*.'] }] }, 'compile egress auth rules: parse auth rule domains for "c": invalid wildcard domain "*."'],
    [{ credentialRules: [{ name: 'n', credentialRef: 'c', protocol: 'ssh', httpMatch: {} }] }, 'compile egress auth rules: auth rule "n" httpMatch requires protocol http, https, or grpc'],
    [{ credentialRules: [{ name: 'n', credentialRef: 'c', protocol: 'https', httpMatch: {} }] }, 'compile egress auth rules: auth rule "n" httpMatch requires tlsMode terminate-reoriginate'],
  ])('%j', (egress, message) => {
    const result = compilePolicy({ mode: 'allow-all', egress });
    expect(result.ok ? '' : result.error.message).toBe(message);
  });

  it('valid protocol and credential rules compile', () => {
    expect(
      compilePolicy({
        mode: 'allow-all',
        egress: {
          protocolRules: [{ name: 'p', protocol: 'HTTP', http: {}, tlsMode: 'terminate-reoriginate' }],
          credentialRules: [{ credentialRef: 'c', protocol: 'https', tlsMode: 'terminate-reoriginate', httpMatch: {}, failurePolicy: 'fail-open' }],
        },
      }).ok,
    ).toBe(true);
  });
});

describe('compilePlatform', () => {
  it('defaults to nothing allowed or denied', () => {
    const result = compilePlatform();
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.platform.allowedCidrs).toEqual([]);
    expect(result.platform.deniedCidrs).toEqual([]);
    expect(result.platform.allowedDomains.size).toBe(0);
    expect(result.platform.deniedDomains.size).toBe(0);
  });

  it('compiles domains like policy domains', () => {
    const result = compilePlatform({ allowedDomains: [' *.Svc.Cluster.Local ', 'kube-dns'] });
    expect(result.ok && result.platform.allowedDomainPatterns).toEqual([
      { pattern: 'svc.cluster.local', kind: 'suffix' },
      { pattern: 'kube-dns', kind: 'exact' },
    ]);
    expect(result.ok && result.platform.allowedDomains.matches('a.b.svc.cluster.local')).toBe(true);
  });

  it.each([
    [{ allowedCidrs: ['198.19.0.1'] }, 'parse platform allowed cidrs: invalid CIDR "198.19.0.1"'],
    [{ deniedCidrs: ['x/8'] }, 'parse platform denied cidrs: invalid CIDR "x/8"'],
    [{ allowedDomains: ['*.'] }, 'parse platform allowed domains: invalid wildcard domain "*."'],
    [{ deniedDomains: ['ok', ' *. '] }, 'parse platform denied domains: invalid wildcard domain "*."'],
  ])('%j fails', (settings, message) => {
    expect(compilePlatform(settings)).toEqual({ ok: false, error: { code: 'invalid_platform_settings', message } });
  });
});
