import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Socks5Reply } from '../../../src/socks5/protocol.js';
import { ConnectionLog } from '../../../src/test-proxy/connection-log.js';
import { CustomerDnsView, parseHostPort } from '../../../src/test-proxy/customer-dns.js';
import { matches, type FaultContext } from '../../../src/test-proxy/faults/fault.js';
import { faultKinds, faultTypes, parseFaultDefinition } from '../../../src/test-proxy/faults/registry.js';

/** The pure parts of the test proxy: fault kinds and matching, the customer DNS view, the connection log. */

const request = (host: string, port: number, atyp: 'ipv4' | 'domain' | 'ipv6' = 'domain'): FaultContext['request'] => ({
  command: 1,
  address: { atyp, host, port },
});

describe('fault kinds', () => {
  it('registers exactly the types the README documents', () => {
    // The README's "Fault types and their attributes" paragraph is the user-facing list; a new fault
    // is registered and documented together (README "Where to add").
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const paragraph = readme.slice(readme.indexOf('Fault types and their `attributes`'), readme.indexOf('## Library (for tests)'));
    const documented = [...paragraph.matchAll(/`([a-z]+(?:_[a-z]+)+)`/g)].map((m) => m[1]!);
    for (const type of faultTypes) expect(paragraph, type).toContain(`\`${type}\``);
    for (const type of documented) expect(faultTypes, type).toContain(type);
    expect(faultTypes.length).toBeGreaterThanOrEqual(11);
  });
  it('fills defaults and keeps the Toxiproxy shape', () => {
    expect(parseFaultDefinition({ type: 'handshake_delay' })).toEqual({ name: 'handshake_delay', type: 'handshake_delay', toxicity: 1, attributes: { latencyMs: 1000 }, match: {} });
    expect(parseFaultDefinition({ name: 'slow', type: 'bandwidth', toxicity: 0.5, attributes: { rate: 10 }, match: { user: 'u' } })).toEqual({
      name: 'slow',
      type: 'bandwidth',
      toxicity: 0.5,
      attributes: { rate: 10, direction: 'down' },
      match: { user: 'u' },
    });
  });
  it('rejects unknown attributes, bad names and unknown match fields with the path in the message', () => {
    expect(() => parseFaultDefinition({ type: 'auth_reject', attributes: { x: 1 } })).toThrow(/attributes/);
    expect(() => parseFaultDefinition({ type: 'auth_reject', name: 'has space' })).toThrow(/name must be/);
    expect(() => parseFaultDefinition({ type: 'auth_reject', match: { sni: 'x' } })).toThrow(/match/);
    expect(() => parseFaultDefinition('nope')).toThrow();
  });
  const effect = (type: string, attrs: Record<string, unknown>, ctx: FaultContext) => {
    const def = parseFaultDefinition({ type, attributes: attrs });
    return faultKinds.get(type)!.effect(def.attributes as never, ctx);
  };
  it('each kind acts only at its phase', () => {
    const req = { phase: 'request' as const, user: 'u', request: request('api.internal.example.com', 443) };
    expect(effect('reject_domain_atyp', {}, req)).toEqual({ kind: 'reply', code: Socks5Reply.AddressTypeNotSupported });
    expect(effect('reject_domain_atyp', {}, { ...req, request: request('198.18.0.1', 443, 'ipv4') })).toBeUndefined();
    expect(effect('reject_ipv6', {}, { ...req, request: request('2001:db8::1', 443, 'ipv6') })).toEqual({ kind: 'reply', code: Socks5Reply.AddressTypeNotSupported });
    expect(effect('reply_code', { code: 2 }, req)).toEqual({ kind: 'reply', code: 2 });
    expect(effect('reply_code', { code: 2 }, { phase: 'greeting' })).toBeUndefined();
    expect(effect('auth_reject', {}, { phase: 'auth', user: 'u' })).toEqual({ kind: 'reject-auth' });
    expect(effect('no_acceptable_method', {}, { phase: 'greeting' })).toEqual({ kind: 'refuse-methods' });
    expect(effect('silent_close', { stage: 'auth' }, { phase: 'auth' })).toEqual({ kind: 'close', how: 'fin' });
    expect(effect('silent_close', { stage: 'auth' }, req)).toBeUndefined();
    expect(effect('bandwidth', { rate: 5 }, { phase: 'relay' })).toEqual({ kind: 'throttle', bytesPerSecond: 5000, direction: 'down' });
    expect(effect('reset_after_bytes', { bytes: 10 }, { phase: 'relay' })).toEqual({ kind: 'reset-after', bytes: 10, direction: 'both' });
    expect(effect('fragmented_replies', {}, { phase: 'relay' })).toBeUndefined();
    expect(effect('connect_delay', { latencyMs: 5 }, req)).toEqual({ kind: 'delay', ms: 5 });
    expect(effect('handshake_delay', { latencyMs: 5 }, req)).toBeUndefined();
  });
  it('match: unknown-yet fields never match; hosts are case-insensitive with *. suffixes', () => {
    expect(matches({ user: 'a' }, { phase: 'greeting' })).toBe(false);
    expect(matches({ user: 'a' }, { phase: 'auth', user: 'a' })).toBe(true);
    expect(matches({ host: '*.Example.com' }, { phase: 'request', request: request('API.example.com', 1) })).toBe(true);
    expect(matches({ host: '*.example.com' }, { phase: 'request', request: request('example.com', 1) })).toBe(false);
    expect(matches({ host: 'a.example.com', port: 443 }, { phase: 'request', request: request('a.example.com', 80) })).toBe(false);
    expect(matches({}, { phase: 'greeting' })).toBe(true);
  });
});

describe('customer DNS view', () => {
  const view = new CustomerDnsView({
    'api.internal.example.com:443': '127.0.0.1:41234',
    'db.corp.example.com': '127.0.0.1:5432',
    'keep.example.com': '127.0.0.1',
    '203.0.113.10:18080': '127.0.0.1:8080',
  });
  it('port-specific keys, name-only keys, and bare hosts that keep the requested port', () => {
    expect(view.resolve('API.internal.example.com', 443)).toEqual({ host: '127.0.0.1', port: 41234 });
    expect(view.resolve('api.internal.example.com', 80)).toBeUndefined();
    expect(view.resolve('db.corp.example.com', 1)).toEqual({ host: '127.0.0.1', port: 5432 });
    expect(view.resolve('keep.example.com', 9999)).toEqual({ host: '127.0.0.1', port: 9999 });
    expect(view.resolve('203.0.113.10', 18080)).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(view.resolve('nowhere.example.com', 443)).toBeUndefined();
  });
  it('rejects bad records naming the record', () => {
    expect(() => new CustomerDnsView({ 'a.example.com': 'no port here:' })).toThrow(/records.a.example.com: values are host:port/);
    expect(() => new CustomerDnsView({ 'a b': '127.0.0.1:1' })).toThrow(/keys are name or name:port/);
  });
  it('parses host:port forms', () => {
    expect(parseHostPort('[::1]:80')).toEqual({ host: '::1', port: 80 });
    expect(parseHostPort('h:70000')).toBeUndefined();
    expect(parseHostPort('h')).toBeUndefined();
    expect(parseHostPort('h', 5)).toEqual({ host: 'h', port: 5 });
  });
});

describe('connection log', () => {
  it('is bounded, filterable, clearable, and shows open connections with a live duration', () => {
    const log = new ConnectionLog(3);
    for (let i = 0; i < 5; i++) {
      const e = log.open('127.0.0.1:1', 1000);
      e.user = i % 2 ? 'odd' : 'even';
      e.atyp = 'domain';
      e.host = `h${i}.example.com`;
      e.replyCode = i === 4 ? Socks5Reply.HostUnreachable : Socks5Reply.Succeeded;
      if (i < 4) ConnectionLog.close(e, 'client-closed', 1500);
    }
    const all = log.list({}, 2000);
    expect(all.map((e) => e.id)).toEqual([3, 4, 5]);
    expect(all[2]).toMatchObject({ state: 'open', durationMs: 1000 });
    expect(all[0]).toMatchObject({ state: 'closed', durationMs: 500, closeCause: 'client-closed' });
    expect(log.list({ user: 'odd' }).map((e) => e.id)).toEqual([4]);
    expect(log.list({ replyCode: Socks5Reply.HostUnreachable }).map((e) => e.host)).toEqual(['h4.example.com']);
    expect(log.list({ limit: 1 }).map((e) => e.id)).toEqual([5]);
    expect(log.list({ afterId: 4 }).map((e) => e.id)).toEqual([5]);
    expect(log.list({ host: 'H3.EXAMPLE.COM' }).map((e) => e.id)).toEqual([4]);
    expect('startedAt' in all[0]!).toBe(false);
    log.clear();
    expect(log.list()).toEqual([]);
  });
});
