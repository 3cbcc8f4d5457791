import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/log.js';
import { Socks5Reply } from '../../../src/socks5/protocol.js';
import { ActiveFaults } from '../../../src/test-proxy/active-faults.js';
import { ConnectionFaults } from '../../../src/test-proxy/connection-faults.js';
import { ConnectionLog } from '../../../src/test-proxy/connection-log.js';
import { CustomerDnsView } from '../../../src/test-proxy/customer-dns.js';
import { handshakeEndCause, relayEndCause } from '../../../src/test-proxy/log-terms.js';
import { replyForDialError } from '../../../src/test-proxy/upstream-dial.js';
import { routeRequest } from '../../../src/test-proxy/upstream-route.js';
import { UserTable } from '../../../src/test-proxy/users.js';

/** The socket-free parts of one test-proxy connection: routing, dial errors, users, per-connection faults, log terms. */

describe('test proxy connection parts', () => {
  it('routes through the customer view first, then IP literals as directIps allows', () => {
    const dns = new CustomerDnsView({ 'db.corp.example.com': '127.0.0.1:5432' });
    expect(routeRequest({ atyp: 'domain', host: 'DB.corp.example.com.', port: 1 }, dns, 'none')).toEqual({ target: { host: '127.0.0.1', port: 5432 } });
    expect(routeRequest({ atyp: 'domain', host: 'nowhere.example', port: 1 }, dns, 'any')).toEqual({ reply: Socks5Reply.HostUnreachable });
    expect(routeRequest({ atyp: 'ipv4', host: '198.51.100.1', port: 80 }, dns, 'loopback')).toEqual({ reply: Socks5Reply.NotAllowedByRuleset });
    expect(routeRequest({ atyp: 'ipv6', host: '::ffff:127.0.0.1', port: 80 }, dns, 'loopback')).toEqual({ target: { host: '127.0.0.1', port: 80 } });
  });

  it('names dial failures with the reply a real proxy sends', () => {
    expect(replyForDialError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(Socks5Reply.ConnectionRefused);
    expect(replyForDialError(Object.assign(new Error('x'), { code: 'ETIMEDOUT' }))).toBe(Socks5Reply.TtlExpired);
    expect(replyForDialError(undefined)).toBe(Socks5Reply.GeneralFailure);
  });

  it('checks credentials against the current users and goes back to the initial ones on reset', () => {
    const users = new UserTable([{ username: 'a', password: 'pa' }]);
    expect(users.verify('a', 'pa')).toBe(true);
    expect(users.verify('a', 'pb')).toBe(false);
    users.replace([{ username: 'b', password: 'pb' }]);
    expect([users.verify('a', 'pa'), users.verify('b', 'pb')]).toEqual([false, true]);
    expect(() => users.replace([{ username: 'b', password: '' }])).toThrow(/users\.0\.password/);
    users.reset();
    expect(users.list()).toEqual([{ username: 'a', password: 'pa' }]);
  });

  it('draws a fault once per connection and names the faults that acted in its log entry', () => {
    const faults = new ActiveFaults(silentLogger(), [{ name: 'slow', type: 'bandwidth', toxicity: 0.5, attributes: { rate: 1 } }, { type: 'auth_reject' }]);
    const draws: number[] = [0.9, 0.1];
    const entry = new ConnectionLog().open('127.0.0.1:1');
    const connection = new ConnectionFaults(faults.active, () => draws.shift()!, entry);
    expect(connection.effectsAt('auth', { user: 'u' })).toEqual([{ kind: 'reject-auth' }]);
    expect(connection.relayShaping({})).toEqual({});
    expect(entry.faults).toEqual(['auth_reject']);
    expect(draws).toEqual([0.1]);
  });

  it('maps handshake and relay ends to the log close causes', () => {
    expect(handshakeEndCause({ kind: 'rejected', stage: 'auth', state: {} })).toBe('auth-failed');
    expect(handshakeEndCause({ kind: 'closed', stage: 'request', state: {}, cause: 'server-closed' })).toBe('fault');
    expect(relayEndCause('stopped')).toBe('proxy-stopped');
    expect(relayEndCause('idle-timeout')).toBe('idle-timeout');
  });
});
