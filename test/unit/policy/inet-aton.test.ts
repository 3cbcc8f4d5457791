import { describe, expect, it } from 'vitest';
import { hostLocalTarget, parseInetAton } from '../../../src/policy/host-local.js';
import { formatIp } from '../../../src/policy/ip.js';

/** The C library's inet_aton forms (what getaddrinfo in a resolving SOCKS5 server turns into an address). */
describe('parseInetAton', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['127.0.1', '127.0.0.1'],
    ['2130706433', '127.0.0.1'],
    ['0x7f000001', '127.0.0.1'],
    ['0X7F.1', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['127.0.0.01', '127.0.0.1'],
    ['0', '0.0.0.0'],
    ['00', '0.0.0.0'],
    ['10.0x10.0300', '10.16.0.192'],
    ['4294967295', '255.255.255.255'],
    ['1.16777215', '1.255.255.255'],
  ])('%s is %s', (text, expected) => {
    const n = parseInetAton(text);
    expect(n).toBeGreaterThanOrEqual(0);
    expect(formatIp({ family: 4, v4: n })).toBe(expected);
  });

  it.each(['', '.', '1.', '.1', '1..1', '1.2.3.4.5', '256.1', '1.2.3.256', '4294967296', '08', '0x', '0xg', '1.16777216', 'a.b', '127.0.0.1 ', '-1', '+1', '1e3', `${'9'.repeat(70)}`])(
    '%j is not an address',
    (text) => expect(parseInetAton(text)).toBe(-1),
  );

  it('hostLocalTarget takes every form, brackets, and localhost names; other names need the resolver', () => {
    for (const host of ['127.1', '0x7f000001', '[::1]', 'localhost', 'a.localhost.', '0']) expect(hostLocalTarget(host), host).toBeDefined();
    for (const host of ['api.internal.example.com', 'vm', '0x7f.example']) expect(hostLocalTarget(host), host).toBeUndefined();
  });
});
