import { describe, expect, it } from 'vitest';
import { HostResolverPassthrough, type HostLookup } from '../../../src/dns/passthrough.js';
import { PlatformDnsView } from '../../../src/dns/views.js';

/**
 * A fake host resolver: answers from a table, records every call, never touches real DNS. A name
 * mapped to `'hang'` never answers (the timeout's case); one missing from the table is ENOTFOUND.
 */
function fakeLookup(table: Record<string, string[] | 'hang'>) {
  const calls: string[] = [];
  const lookup: HostLookup = (name) => {
    calls.push(name);
    const entry = table[name];
    if (entry === 'hang') return new Promise(() => {});
    if (!entry) return Promise.reject(Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' }));
    return Promise.resolve(entry.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
  };
  return { lookup, calls };
}

const records = { 'api.internal.example.com': ['198.18.0.10'], 'proxy.example.com:1080': ['127.0.0.1:41000'] };

describe('platform DNS view without passthrough (the default)', () => {
  it('leaves a name without a record unresolvable: the documented pitfall is unchanged', async () => {
    const view = new PlatformDnsView(records);
    expect(view.passthrough).toBe(false);
    expect(view.resolve('db.corp.example.com')).toBeUndefined();
    expect(await view.lookup('db.corp.example.com')).toEqual({ ok: false, reason: 'db.corp.example.com has no record in the platform DNS view' });
    expect(await view.lookup('API.internal.example.com.')).toEqual({ ok: true, addresses: ['198.18.0.10'] });
  });
});

describe('platform DNS view with passthrough to the host resolver', () => {
  it('resolves a name without a record with the host resolver, once: the answer is cached', async () => {
    const host = fakeLookup({ 'db.corp.example.com': ['203.0.113.5', '2001:db8::5'] });
    const view = new PlatformDnsView(records, new HostResolverPassthrough({ lookup: host.lookup }));
    expect(view.passthrough).toBe(true);
    expect(view.lookupKnown('db.corp.example.com')).toBeUndefined(); // must ask the host first
    expect(await view.lookup('DB.corp.example.com.')).toEqual({ ok: true, addresses: ['203.0.113.5', '2001:db8::5'] });
    expect(await view.lookup('db.corp.example.com')).toEqual({ ok: true, addresses: ['203.0.113.5', '2001:db8::5'] });
    expect(host.calls).toEqual(['db.corp.example.com']);
    // The gateway's synchronous questions (host verification) see the cached answer too.
    expect(view.resolve('db.corp.example.com')).toEqual(['203.0.113.5', '2001:db8::5']);
  });

  it('shares one host lookup between concurrent questions about a name', async () => {
    const host = fakeLookup({ 'db.corp.example.com': ['203.0.113.5'] });
    const view = new PlatformDnsView({}, new HostResolverPassthrough({ lookup: host.lookup }));
    const answers = await Promise.all([view.lookup('db.corp.example.com'), view.lookup('db.corp.example.com')]);
    expect(answers.map((a) => a.ok)).toEqual([true, true]);
    expect(host.calls).toEqual(['db.corp.example.com']);
  });

  it('never asks the host about a name with an explicit record, or about an IP literal', async () => {
    const host = fakeLookup({ 'api.internal.example.com': ['203.0.113.99'], 'proxy.example.com': ['203.0.113.98'] });
    const view = new PlatformDnsView(records, new HostResolverPassthrough({ lookup: host.lookup }));
    expect(await view.lookup('api.internal.example.com')).toEqual({ ok: true, addresses: ['198.18.0.10'] });
    expect(await view.lookupEndpoint('proxy.example.com', 1080)).toEqual({ ok: true, endpoints: [{ host: '127.0.0.1', port: 41000 }] });
    expect(await view.lookup('10.1.2.3')).toEqual({ ok: true, addresses: ['10.1.2.3'] });
    expect(host.calls).toEqual([]);
  });

  it('gives up on a host lookup after the timeout, with a clear reason, and caches the failure', async () => {
    const host = fakeLookup({ 'slow.corp.example.com': 'hang' });
    const view = new PlatformDnsView({}, new HostResolverPassthrough({ lookup: host.lookup, timeoutMs: 20 }));
    const answer = await view.lookup('slow.corp.example.com');
    expect(answer).toEqual({
      ok: false,
      askedHost: true,
      reason: 'slow.corp.example.com has no record in the platform DNS view and the host resolver did not answer for slow.corp.example.com within 20 ms (passthrough)',
    });
    expect(await view.lookup('slow.corp.example.com')).toEqual(answer);
    expect(view.lookupKnown('slow.corp.example.com')).toEqual(answer);
    expect(host.calls).toEqual(['slow.corp.example.com']);
  });

  it('caches a negative answer, and asks again once the cache time has passed', async () => {
    let now = 1_000_000;
    const host = fakeLookup({});
    const view = new PlatformDnsView({}, new HostResolverPassthrough({ lookup: host.lookup, cacheTtlMs: 30_000, now: () => now }));
    const first = await view.lookup('nope.example.com');
    expect(first).toMatchObject({ ok: false, reason: expect.stringContaining('could not resolve nope.example.com: ENOTFOUND') });
    await view.lookup('nope.example.com');
    expect(host.calls).toHaveLength(1);
    now += 30_001;
    await view.lookup('nope.example.com');
    expect(host.calls).toHaveLength(2);
  });

  it('forgets cached answers when the view is replaced', async () => {
    const host = fakeLookup({ 'db.corp.example.com': ['203.0.113.5'] });
    const view = new PlatformDnsView({}, new HostResolverPassthrough({ lookup: host.lookup }));
    await view.lookup('db.corp.example.com');
    view.replace({});
    expect(view.resolve('db.corp.example.com')).toBeUndefined();
    await view.lookup('db.corp.example.com');
    expect(host.calls).toHaveLength(2);
  });
});
