import { describe, expect, it } from 'vitest';
import { cidrsContain, formatIp, ipEquals, parseCidr, parseIp, parseIPv4 } from '../../../src/policy/ip.js';
import { splitHostPort } from '../../../src/go/net.js';
import { goQuote } from '../../../src/go/quote.js';

describe('parseIPv4 (Go net.ParseIP rules)', () => {
  it.each([
    ['198.18.0.1', 0xc6120001],
    ['0.0.0.0', 0],
    ['255.255.255.255', 0xffffffff],
    ['198.19.255.254', 0xc613fffe],
  ])('%s', (text, value) => expect(parseIPv4(text)).toBe(value));

  it.each(['198.18.0.01', '198.18.0', '198.18.0.1.2', '256.1.1.1', '198.18..1', ' 198.18.0.1', '198.18.0.1 ', '0x1.2.3.4', '', '1.2.3.-4'])(
    'rejects %j',
    (text) => expect(parseIPv4(text)).toBe(-1),
  );
});

describe('parseIp / formatIp / ipEquals', () => {
  it('IPv4-mapped IPv6 becomes IPv4', () => {
    expect(parseIp('::ffff:198.18.0.1')).toEqual({ family: 4, v4: 0xc6120001 });
  });
  it('IPv6 is parsed and printed in RFC 5952 form', () => {
    const ip = parseIp('2001:DB8:0:0:0:0:0:1');
    expect(ip?.family).toBe(6);
    expect(ip && formatIp(ip)).toBe('2001:db8::1');
  });
  it('rejects zones and garbage', () => {
    expect(parseIp('fe80::1%eth0')).toBeUndefined();
    expect(parseIp('example.com')).toBeUndefined();
    expect(parseIp(':::')).toBeUndefined();
  });
  it('compares across forms', () => {
    expect(ipEquals(parseIp('198.18.0.1')!, parseIp('::ffff:c612:1')!)).toBe(true);
    expect(ipEquals(parseIp('2001:db8::1')!, parseIp('2001:db8:0::1')!)).toBe(true);
    expect(ipEquals(parseIp('2001:db8::1')!, parseIp('2001:db8::2')!)).toBe(false);
    expect(ipEquals(parseIp('198.18.0.1')!, parseIp('2001:db8::1')!)).toBe(false);
  });
  it('formats IPv4', () => expect(formatIp({ family: 4, v4: 0xc613fffe })).toBe('198.19.255.254'));
});

describe('parseCidr (Go net.ParseCIDR rules)', () => {
  it('masks host bits', () => {
    expect(parseCidr('198.18.9.77/24')).toMatchObject({ family: 4, base: 0xc6120900, mask: 0xffffff00 });
  });
  it('/0 contains everything IPv4; /32 one address', () => {
    expect(cidrsContain([parseCidr('0.0.0.0/0')!], parseIp('198.19.1.1')!)).toBe(true);
    expect(cidrsContain([parseCidr('198.18.0.1/32')!], parseIp('198.18.0.1')!)).toBe(true);
    expect(cidrsContain([parseCidr('198.18.0.1/32')!], parseIp('198.18.0.2')!)).toBe(false);
  });
  it('prefix digits may have leading zeros but no sign', () => {
    expect(parseCidr('198.18.0.0/016')).toMatchObject({ family: 4, mask: 0xffff0000 });
    expect(parseCidr('198.18.0.0/+16')).toBeUndefined();
  });
  it.each(['198.18.0.1', '198.18.0.0/33', '198.18.0.0/', '/8', 'x/8', '198.18.0.00/16', '2001:db8::/129', 'fe80::%1/64'])('rejects %j', (text) =>
    expect(parseCidr(text)).toBeUndefined(),
  );
  it('IPv6 CIDRs match IPv6 destinations only, without crashing on IPv4', () => {
    const v6 = parseCidr('2001:db8::/32')!;
    expect(v6.family).toBe(6);
    expect(cidrsContain([v6], parseIp('2001:db8:1::5')!)).toBe(true);
    expect(cidrsContain([v6], parseIp('2001:db9::5')!)).toBe(false);
    expect(cidrsContain([v6], parseIp('198.18.0.1')!)).toBe(false);
  });
  it('an IPv4-mapped CIDR of at least 96 bits matches IPv4 (as IPNet.Contains)', () => {
    const mapped = parseCidr('::ffff:198.18.0.0/112')!;
    expect(mapped).toMatchObject({ family: 4, mask: 0xffff0000 });
    expect(cidrsContain([mapped], parseIp('198.18.77.1')!)).toBe(true);
    expect(cidrsContain([parseCidr('::ffff:0:0/80')!], parseIp('198.18.77.1')!)).toBe(false);
  });
  it('an IPv4 CIDR never matches an IPv6 destination', () => {
    expect(cidrsContain([parseCidr('0.0.0.0/0')!], parseIp('2001:db8::1')!)).toBe(false);
  });
});

describe('Go formatting helpers', () => {
  it('goQuote escapes like strconv.Quote', () => {
    expect(goQuote('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(goQuote('\t\n\x01\x7f')).toBe('"\\t\\n\\x01\\x7f"');
    expect(goQuote('bücher')).toBe('"bücher"');
    expect(goQuote('\u200b')).toBe('"\\u200b"');
  });
  it('splitHostPort keeps an empty port and unbrackets IPv6', () => {
    expect(splitHostPort('h:')).toEqual({ ok: true, host: 'h', port: '' });
    expect(splitHostPort('[::1]:80')).toEqual({ ok: true, host: '::1', port: '80' });
    expect(splitHostPort('[::1]')).toEqual({ ok: false, message: 'address [::1]: missing port in address' });
    expect(splitHostPort('[::1]:80:90')).toEqual({ ok: false, message: 'address [::1]:80:90: too many colons in address' });
  });
});
