import { describe, expect, it } from 'vitest';
import {
  Socks5Method,
  Socks5ProtocolError,
  Socks5Reply,
  Socks5Command,
  addressFor,
  describeReply,
  encodeGreeting,
  encodeMethodSelection,
  encodeReply,
  encodeRequest,
  encodeUserPassRequest,
  encodeUserPassStatus,
  parseGreeting,
  parseMethodSelection,
  parseReply,
  parseRequest,
  parseUserPassRequest,
  parseUserPassStatus,
} from '../../../src/socks5/protocol.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('greeting and method selection', () => {
  it('parses a greeting and keeps pipelined bytes out of it', () => {
    expect(parseGreeting(hex('05 02 00 02 01 02'))).toEqual({ value: { methods: [0x00, 0x02] }, length: 4 });
    expect(encodeGreeting({ methods: [0x00, 0x02] })).toEqual(hex('05 02 00 02'));
  });
  it('asks for more bytes at every truncation point', () => {
    const full = hex('05 03 00 01 02');
    for (let n = 0; n < full.length; n++) expect(parseGreeting(full.subarray(0, n))).toBeUndefined();
  });
  it('rejects a wrong version and an empty method list with stable codes', () => {
    expect(() => parseGreeting(hex('04 01 00'))).toThrow(expect.objectContaining({ code: 'socks5_bad_version' }));
    expect(() => parseGreeting(hex('05 00'))).toThrow(expect.objectContaining({ code: 'socks5_no_methods' }));
  });
  it('method selection round-trips, including 0xff', () => {
    expect(encodeMethodSelection({ method: Socks5Method.NoAcceptable })).toEqual(hex('05 ff'));
    expect(parseMethodSelection(hex('05 ff'))).toEqual({ value: { method: 0xff }, length: 2 });
    expect(parseMethodSelection(hex('05'))).toBeUndefined();
  });
});

describe('RFC 1929 username/password', () => {
  it('round-trips 255-byte username and password', () => {
    const username = 'u'.repeat(255);
    const password = 'p'.repeat(255);
    const bytes = encodeUserPassRequest({ username, password });
    expect(bytes.length).toBe(3 + 255 + 255);
    expect(parseUserPassRequest(bytes)).toEqual({ value: { username, password }, length: bytes.length });
    for (const n of [0, 1, 2, 200, 258, 300, 512]) expect(parseUserPassRequest(bytes.subarray(0, n))).toBeUndefined();
  });
  it('refuses to encode 256 bytes without echoing the value', () => {
    const secret = 's3cret'.repeat(50);
    expect(() => encodeUserPassRequest({ username: 'u', password: secret })).toThrow(Socks5ProtocolError);
    try {
      encodeUserPassRequest({ username: 'u', password: secret });
    } catch (err) {
      expect((err as Error).message).not.toContain('s3cret');
    }
  });
  it('status and version errors', () => {
    expect(encodeUserPassStatus({ status: 1 })).toEqual(hex('01 01'));
    expect(parseUserPassStatus(hex('01 00'))).toEqual({ value: { status: 0 }, length: 2 });
    expect(() => parseUserPassRequest(hex('05 01 61 01 62'))).toThrow(expect.objectContaining({ code: 'socks5_bad_auth_version' }));
  });
  it('accepts zero-length values on parse (the server then rejects them as credentials)', () => {
    expect(parseUserPassRequest(hex('01 00 00'))).toEqual({ value: { username: '', password: '' }, length: 3 });
  });
});

describe('requests and replies', () => {
  it('IPv4, domain and IPv6 requests match the RFC 1928 layout', () => {
    const v4 = encodeRequest({ command: Socks5Command.Connect, address: { atyp: 'ipv4', host: '198.18.0.10', port: 443 } });
    expect(v4).toEqual(hex('05 01 00 01 c6 12 00 0a 01 bb'));
    const name = encodeRequest({ command: Socks5Command.Connect, address: { atyp: 'domain', host: 'api.internal.example.com', port: 443 } });
    expect(name.subarray(0, 5)).toEqual(hex('05 01 00 03 18'));
    const v6 = encodeRequest({ command: Socks5Command.UdpAssociate, address: { atyp: 'ipv6', host: '2001:db8::1', port: 53 } });
    expect(v6).toEqual(hex('05 03 00 04 20010db8000000000000000000000001 0035'));
    for (const bytes of [v4, name, v6]) {
      const parsed = parseRequest(Buffer.concat([bytes, hex('16 03 01')]));
      expect(parsed?.length).toBe(bytes.length);
      for (let n = 0; n < bytes.length; n++) expect(parseRequest(bytes.subarray(0, n))).toBeUndefined();
    }
    expect(parseRequest(v6)?.value).toEqual({ command: 3, address: { atyp: 'ipv6', host: '2001:db8::1', port: 53 } });
  });
  it('a 255-byte name fits, 256 does not', () => {
    const host = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}`;
    expect(host.length).toBe(255);
    const bytes = encodeRequest({ command: 1, address: { atyp: 'domain', host, port: 80 } });
    expect(parseRequest(bytes)?.value.address.host).toBe(host);
    expect(() => encodeRequest({ command: 1, address: { atyp: 'domain', host: host + 'x', port: 80 } })).toThrow(expect.objectContaining({ code: 'socks5_domain_too_long' }));
  });
  it('unknown ATYP and bad reserved byte carry the reply a server should send', () => {
    const badAtyp = (() => {
      try {
        parseRequest(hex('05 01 00 09 00'));
      } catch (err) {
        return err as Socks5ProtocolError;
      }
      return undefined;
    })();
    expect(badAtyp).toMatchObject({ code: 'socks5_bad_address_type', reply: Socks5Reply.AddressTypeNotSupported });
    expect(() => parseRequest(hex('05 01 01 01 7f 00 00 01 00 50'))).toThrow(expect.objectContaining({ code: 'socks5_bad_reserved' }));
    expect(() => parseRequest(hex('05 01 00 03 00 00 50'))).toThrow(expect.objectContaining({ code: 'socks5_empty_domain' }));
  });
  it('every reply code 0x00-0x08 encodes as a full 10-byte reply and has words', () => {
    for (const code of Object.values(Socks5Reply)) {
      const bytes = encodeReply({ code });
      expect(bytes).toEqual(Buffer.from([5, code, 0, 1, 0, 0, 0, 0, 0, 0]));
      expect(parseReply(bytes)?.value).toEqual({ code, bound: { atyp: 'ipv4', host: '0.0.0.0', port: 0 } });
    }
    expect(describeReply(Socks5Reply.AddressTypeNotSupported)).toBe('0x08 address type not supported');
    expect(describeReply(Socks5Reply.HostUnreachable)).toBe('0x04 host unreachable');
    expect(describeReply(0x42)).toBe('0x42 unassigned reply code');
    expect(encodeReply({ code: 0, bound: { atyp: 'ipv6', host: '::1', port: 1080 } }).length).toBe(22);
  });
  it('addressFor picks the ATYP the platform would send', () => {
    expect(addressFor('203.0.113.10', 18080).atyp).toBe('ipv4');
    expect(addressFor('[::1]', 1).atyp).toBe('ipv6');
    expect(addressFor('api.internal.example.com', 443).atyp).toBe('domain');
  });
});

describe('fuzz: random and mutated input never crashes or hangs a parser', () => {
  // A seeded generator keeps failures reproducible.
  let seed = 0x5eed;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const parsers = [parseGreeting, parseMethodSelection, parseUserPassRequest, parseUserPassStatus, parseRequest, parseReply];
  const seeds = [
    hex('05 02 00 02'),
    encodeUserPassRequest({ username: 'proxy-user', password: 'proxy-pass' }),
    encodeRequest({ command: 1, address: { atyp: 'domain', host: 'api.internal.example.com', port: 443 } }),
    encodeReply({ code: 0, bound: { atyp: 'ipv6', host: '::1', port: 1 } }),
  ];
  const check = (input: Buffer): void => {
    for (const parse of parsers) {
      try {
        const r = parse(input);
        if (r) {
          expect(r.length).toBeGreaterThan(0);
          expect(r.length).toBeLessThanOrEqual(input.length);
        }
      } catch (err) {
        expect(err).toBeInstanceOf(Socks5ProtocolError);
      }
    }
  };
  it('5,000 random buffers', () => {
    for (let i = 0; i < 5000; i++) {
      const len = Math.floor(rand() * 600);
      const buf = Buffer.alloc(len);
      for (let j = 0; j < len; j++) buf[j] = Math.floor(rand() * 256);
      if (len > 0 && rand() < 0.5) buf[0] = rand() < 0.5 ? 5 : 1;
      check(buf);
    }
  });
  it('5,000 mutations of valid messages', () => {
    for (let i = 0; i < 5000; i++) {
      const base = Buffer.from(seeds[i % seeds.length]!);
      const flips = 1 + Math.floor(rand() * 3);
      for (let f = 0; f < flips; f++) base[Math.floor(rand() * base.length)] = Math.floor(rand() * 256);
      check(base.subarray(0, Math.floor(rand() * (base.length + 1))));
    }
  });
});
