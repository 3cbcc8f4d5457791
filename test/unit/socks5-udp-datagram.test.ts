import { describe, expect, it } from 'vitest';
import { encodeUdpDatagram, parseUdpDatagram } from '../../src/socks5/udp-datagram.js';

describe('SOCKS5 UDP datagram header (RFC 1928 §7)', () => {
  it('round-trips every address type', () => {
    for (const address of [
      { atyp: 'ipv4' as const, host: '198.18.0.53', port: 53 },
      { atyp: 'domain' as const, host: 'api.internal.example.com', port: 443 },
      { atyp: 'ipv6' as const, host: '2001:db8::1', port: 4433 },
    ]) {
      const parsed = parseUdpDatagram(encodeUdpDatagram(address, Buffer.from('payload')));
      expect(parsed).toEqual({ frag: 0, address, data: Buffer.from('payload') });
    }
  });

  it('rejects truncated or malformed headers with a typed error', () => {
    const good = encodeUdpDatagram({ atyp: 'domain', host: 'x.example', port: 9 }, Buffer.alloc(0));
    for (let n = 0; n < good.length; n++) expect(() => parseUdpDatagram(good.subarray(0, n)), `length ${n}`).toThrow();
    expect(() => parseUdpDatagram(Buffer.from([1, 0, 0, 1, 1, 2, 3, 4, 0, 53]))).toThrow(/reserved/);
    expect(parseUdpDatagram(Buffer.from([0, 0, 2, 1, 1, 2, 3, 4, 0, 53])).frag).toBe(2);
  });
});
