import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { DnsSnoopCache, snoopMaxEntriesPerSandbox, snoopTtlMaxSeconds, snoopTtlMinSeconds } from '../../../src/dns/snoop-cache.js';
import { DnsTcpFramer, snoopDnsResponse } from '../../../src/dns/snoop-response.js';
import { prng } from '../../helpers/fuzz.js';

/** A clock the test moves by hand. */
function fakeClock(start = 1_700_000_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

const response = (name: string, answers: dnsPacket.Answer[], extra: Partial<dnsPacket.Packet> = {}) =>
  dnsPacket.encode({ type: 'response', id: 1, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE, questions: [{ type: 'A', name }], answers, ...extra });

describe('snoopDnsResponse', () => {
  it('follows a CNAME chain: the addresses map to the name the sandbox asked for', () => {
    const msg = response('git.internal.example.com', [
      { type: 'CNAME', name: 'git.internal.example.com', ttl: 60, data: 'git-lb.internal.example.net' },
      { type: 'CNAME', name: 'git-lb.internal.example.net', ttl: 60, data: 'edge-7.cdn.example.org' },
      { type: 'A', name: 'edge-7.cdn.example.org', ttl: 42, data: '198.18.0.22' },
      { type: 'AAAA', name: 'edge-7.cdn.example.org', ttl: 42, data: '2001:db8::22' },
      // Not reachable from the question: ignored.
      { type: 'A', name: 'unrelated.example.com', ttl: 42, data: '198.18.0.99' },
    ]);
    expect(snoopDnsResponse(msg)).toEqual([
      { address: '198.18.0.22', host: 'git.internal.example.com', ttlSeconds: 42 },
      { address: '2001:db8::22', host: 'git.internal.example.com', ttlSeconds: 42 },
    ]);
  });

  it('lowercases the name, and learns nothing from queries, errors or answerless responses', () => {
    expect(snoopDnsResponse(response('Git.Example.COM', [{ type: 'A', name: 'git.example.com', ttl: 9, data: '198.18.0.1' }]))).toEqual([{ address: '198.18.0.1', host: 'git.example.com', ttlSeconds: 9 }]);
    const query = dnsPacket.encode({ type: 'query', id: 1, questions: [{ type: 'A', name: 'a.example.com' }] });
    expect(snoopDnsResponse(query)).toEqual([]);
    const nx = response('a.example.com', [{ type: 'A', name: 'a.example.com', ttl: 9, data: '198.18.0.1' }], { flags: 3 });
    expect(snoopDnsResponse(nx)).toEqual([]);
    expect(snoopDnsResponse(response('a.example.com', []))).toEqual([]);
  });

  it('never throws on garbage or truncated responses', () => {
    const good = response('git.example.com', [{ type: 'A', name: 'git.example.com', ttl: 9, data: '198.18.0.1' }]);
    const random = prng(53);
    for (let i = 0; i < 2_000; i++) {
      const bytes = Buffer.from(good);
      const mutations = 1 + Math.floor(random() * 4);
      for (let m = 0; m < mutations; m++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      expect(() => snoopDnsResponse(bytes.subarray(0, Math.floor(random() * (bytes.length + 1))))).not.toThrow();
      expect(() => snoopDnsResponse(bytes)).not.toThrow();
    }
    expect(snoopDnsResponse(Buffer.alloc(0))).toEqual([]);
  });
});

describe('DnsTcpFramer', () => {
  it('splits length-prefixed messages however the stream is cut', () => {
    const a = response('a.example.com', [{ type: 'A', name: 'a.example.com', ttl: 9, data: '198.18.0.1' }]);
    const b = response('b.example.com', [{ type: 'A', name: 'b.example.com', ttl: 9, data: '198.18.0.2' }]);
    const prefixed = (m: Buffer) => Buffer.concat([Buffer.from([m.length >> 8, m.length & 0xff]), m]);
    const stream = Buffer.concat([prefixed(a), prefixed(b)]);
    const framer = new DnsTcpFramer();
    const out: Buffer[] = [];
    for (let i = 0; i < stream.length; i += 3) out.push(...framer.push(stream.subarray(i, i + 3)));
    expect(out).toEqual([a, b]);
  });
});

describe('DnsSnoopCache', () => {
  it('maps an address to the host per sandbox, and sandboxes never see each other\'s entries', () => {
    const cache = new DnsSnoopCache();
    cache.record('sb-a', '198.18.0.22', 'git.internal.example.com', 60);
    cache.record('sb-b', '198.18.0.22', 'other.example.com', 60);
    expect(cache.lookup('sb-a', '198.18.0.22')).toBe('git.internal.example.com');
    expect(cache.lookup('sb-b', '198.18.0.22')).toBe('other.example.com');
    expect(cache.lookup('sb-c', '198.18.0.22')).toBeUndefined();
    cache.clear('sb-a');
    expect(cache.lookup('sb-a', '198.18.0.22')).toBeUndefined();
    expect(cache.lookup('sb-b', '198.18.0.22')).toBe('other.example.com');
    cache.clear();
    expect(cache.lookup('sb-b', '198.18.0.22')).toBeUndefined();
  });

  it('keys addresses canonically (mapped IPv4, IPv6 case) and records answers of a response', () => {
    const cache = new DnsSnoopCache();
    cache.recordAnswers('sb', snoopDnsResponse(response('git.example.com', [{ type: 'AAAA', name: 'git.example.com', ttl: 30, data: '2001:DB8:0:0::22' }])));
    expect(cache.lookup('sb', '2001:db8::22')).toBe('git.example.com');
    cache.record('sb', '::ffff:198.18.0.5', 'five.example.com.', 30);
    expect(cache.lookup('sb', '198.18.0.5')).toBe('five.example.com');
    cache.record('sb', 'not-an-ip', 'x.example.com', 30);
    expect(cache.size('sb')).toBe(2);
  });

  it(`clamps a short TTL up to ${snoopTtlMinSeconds} s`, () => {
    const clock = fakeClock();
    const cache = new DnsSnoopCache({ now: clock.now });
    cache.record('sb', '198.18.0.1', 'zero.example.com', 0);
    cache.record('sb', '198.18.0.2', 'one.example.com', 1);
    clock.advance(4_999);
    expect(cache.lookup('sb', '198.18.0.1')).toBe('zero.example.com');
    expect(cache.lookup('sb', '198.18.0.2')).toBe('one.example.com');
    clock.advance(1);
    expect(cache.lookup('sb', '198.18.0.1')).toBeUndefined();
    expect(cache.lookup('sb', '198.18.0.2')).toBeUndefined();
  });

  it(`clamps a long TTL down to ${snoopTtlMaxSeconds} s, and keeps a TTL inside the range`, () => {
    const clock = fakeClock();
    const cache = new DnsSnoopCache({ now: clock.now });
    cache.record('sb', '198.18.0.1', 'day.example.com', 86_400);
    cache.record('sb', '198.18.0.2', 'minute.example.com', 60);
    clock.advance(59_999);
    expect(cache.lookup('sb', '198.18.0.2')).toBe('minute.example.com');
    clock.advance(1);
    expect(cache.lookup('sb', '198.18.0.2')).toBeUndefined();
    clock.advance(300_000 - 60_000 - 1);
    expect(cache.lookup('sb', '198.18.0.1')).toBe('day.example.com');
    clock.advance(1);
    expect(cache.lookup('sb', '198.18.0.1')).toBeUndefined();
  });

  it(`holds at most ${snoopMaxEntriesPerSandbox} entries per sandbox, evicting the oldest`, () => {
    const cache = new DnsSnoopCache();
    const ip = (i: number) => `198.18.${i >> 8}.${i & 0xff}`;
    for (let i = 0; i < snoopMaxEntriesPerSandbox; i++) cache.record('sb', ip(i), `h${i}.example.com`, 60);
    cache.record('other', ip(0), 'other.example.com', 60);
    // Rewriting an entry makes it the newest.
    cache.record('sb', ip(1), 'h1-again.example.com', 60);
    expect(cache.size('sb')).toBe(snoopMaxEntriesPerSandbox);
    cache.record('sb', ip(snoopMaxEntriesPerSandbox), 'newest.example.com', 60);
    expect(cache.size('sb')).toBe(snoopMaxEntriesPerSandbox);
    expect(cache.lookup('sb', ip(0))).toBeUndefined();
    expect(cache.lookup('sb', ip(1))).toBe('h1-again.example.com');
    expect(cache.lookup('sb', ip(2))).toBe('h2.example.com');
    expect(cache.lookup('sb', ip(snoopMaxEntriesPerSandbox))).toBe('newest.example.com');
    // Another sandbox's entries neither count nor get evicted.
    expect(cache.lookup('other', ip(0))).toBe('other.example.com');
    cache.record('sb', ip(snoopMaxEntriesPerSandbox + 1), 'newer.example.com', 60);
    expect(cache.lookup('sb', ip(2))).toBeUndefined();
  });
});
