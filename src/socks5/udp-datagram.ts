import { Socks5ProtocolError, encodeAddress, parseAddress, type Socks5Address } from './protocol.js';

/**
 * RFC 1928 §7 UDP request header: RSV(2) FRAG(1) ATYP DST.ADDR DST.PORT DATA. Fragmentation is not
 * supported (FRAG must be 0), as most servers do; such datagrams are dropped by the caller.
 */
export interface Socks5UdpDatagram {
  frag: number;
  address: Socks5Address;
  data: Buffer;
}

export function parseUdpDatagram(buf: Buffer): Socks5UdpDatagram {
  if (buf.length < 4) throw new Socks5ProtocolError('socks5_truncated_datagram', 'UDP datagram shorter than its header');
  if (buf[0] !== 0 || buf[1] !== 0) throw new Socks5ProtocolError('socks5_bad_reserved', 'UDP datagram reserved bytes must be zero');
  const address = parseAddress(buf, 3);
  if (!address) throw new Socks5ProtocolError('socks5_truncated_datagram', 'UDP datagram address is truncated');
  return { frag: buf[2]!, address: address.value, data: buf.subarray(3 + address.length) };
}

export function encodeUdpDatagram(address: Socks5Address, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0, 0, 0]), encodeAddress(address), data]);
}
