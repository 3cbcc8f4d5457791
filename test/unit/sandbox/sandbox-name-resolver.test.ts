import { describe, expect, it } from 'vitest';
import { HostResolverPassthrough, type HostLookup } from '../../../src/dns/passthrough.js';
import { PlatformDnsView } from '../../../src/dns/views.js';
import { pickAddress, SandboxNameResolver, targetAddress } from '../../../src/sandbox/sandbox-name-resolver.js';

/** A host resolver from a table: one address per name, anything else ENOTFOUND; counts its calls. */
function hostTable(table: Record<string, string>) {
  const calls: string[] = [];
  const lookup: HostLookup = (name) => {
    calls.push(name);
    const address = table[name];
    return address ? Promise.resolve([{ address, family: 4 }]) : Promise.reject(Object.assign(new Error('not found'), { code: 'ENOTFOUND' }));
  };
  return { lookup, calls };
}

function resolverWith(hosts: Record<string, Record<string, string[]>>, view: PlatformDnsView) {
  const reads: string[] = [];
  const resolver = new SandboxNameResolver({
    hosts: (id) => {
      reads.push(id);
      return hosts[id];
    },
    platformDns: () => view,
  });
  return { resolver, reads };
}

describe('SandboxNameResolver.lookup', () => {
  const view = new PlatformDnsView({ 'api.internal.example.com': ['2001:db8::10', '198.18.0.10'] });

  it('answers IP literals as is, hosts entries before the platform view, names case- and dot-insensitively', () => {
    const { resolver } = resolverWith({ sb: { 'API.internal.example.com': ['10.0.0.7'] } }, view);
    expect(resolver.lookup('sb', '203.0.113.9', 'known')).toEqual({ ok: true, addresses: ['203.0.113.9'] });
    expect(resolver.lookup('sb', 'api.internal.example.com.', 'known')).toEqual({ ok: true, addresses: ['10.0.0.7'] });
    expect(resolver.lookup('other', 'api.internal.example.com', 'known')).toEqual({ ok: true, addresses: ['2001:db8::10', '198.18.0.10'] });
    expect(resolver.lookup('other', 'nope.example.com', 'ask-host')).toEqual({ ok: false, reason: 'nope.example.com has no record in the platform DNS view' });
  });

  it('reads a sandbox\'s hosts entries once, again only after forget', () => {
    const { resolver, reads } = resolverWith({ sb: { 'a.example.com': ['10.0.0.1'] } }, view);
    resolver.lookup('sb', 'a.example.com', 'known');
    resolver.lookup('sb', 'b.example.com', 'known');
    expect(reads).toEqual(['sb']);
    resolver.forget('sb');
    resolver.lookup('sb', 'a.example.com', 'known');
    expect(reads).toEqual(['sb', 'sb']);
  });

  it('with passthrough: `known` does not ask the host, `ask-host` does (a promise), then the answer is known synchronously', async () => {
    const host = hostTable({ 'db.corp.example.com': '203.0.113.5' });
    const { resolver } = resolverWith({}, new PlatformDnsView({}, new HostResolverPassthrough({ lookup: host.lookup })));
    expect(resolver.lookup('sb', 'db.corp.example.com', 'known')).toBeUndefined();
    expect(host.calls).toEqual([]);
    const asked = resolver.lookup('sb', 'db.corp.example.com', 'ask-host');
    expect(asked).toBeInstanceOf(Promise);
    expect(await asked).toEqual({ ok: true, addresses: ['203.0.113.5'] });
    expect(resolver.lookup('sb', 'db.corp.example.com', 'ask-host')).toEqual({ ok: true, addresses: ['203.0.113.5'] });
    const failed = await resolver.lookup('sb', 'gone.corp.example.com', 'ask-host');
    expect(failed).toMatchObject({ ok: false, askedHost: true });
    expect(resolver.lookup('sb', 'gone.corp.example.com', 'known')).toEqual(failed);
  });
});

describe('pickAddress and targetAddress', () => {
  it('a program dials the first IPv4 address, else the first; none is a failure', () => {
    expect(pickAddress({ ok: true, addresses: ['2001:db8::1', '192.0.2.1'] })).toEqual({ ok: true, address: '192.0.2.1', addresses: ['2001:db8::1', '192.0.2.1'] });
    expect(pickAddress({ ok: true, addresses: ['2001:db8::1'] })).toMatchObject({ ok: true, address: '2001:db8::1' });
    expect(pickAddress({ ok: true, addresses: [] })).toEqual({ ok: false, reason: 'no addresses' });
  });

  it('an ip wins over a host; a host is resolved as the sandbox would; neither gives no ip', async () => {
    const { resolver } = resolverWith({ sb: { 'svc.example.com': ['10.0.0.9'] } }, new PlatformDnsView({}));
    expect(await targetAddress(resolver, 'sb', { ip: '192.0.2.7', host: 'svc.example.com' })).toEqual({ ip: '192.0.2.7' });
    expect(await targetAddress(resolver, 'sb', { host: 'svc.example.com' })).toMatchObject({ ip: '10.0.0.9', found: { ok: true } });
    expect(await targetAddress(resolver, 'sb', { host: 'nope.example.com' })).toMatchObject({ ip: undefined, found: { ok: false } });
    expect(await targetAddress(resolver, 'sb', {})).toEqual({ ip: undefined });
  });
});
