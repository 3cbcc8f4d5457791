import { createCipheriv, randomBytes } from 'node:crypto';
import { aeadTagLength, clientInitialKeys, hpSampleLength, hpSampleOffset, LongHeader, longHeaderProtectedBits, QuicFrame, QuicVersion } from '../classify/quic-initial.js';
import { tlsClientHello } from './probe-payloads.js';

/**
 * A QUIC v1 client Initial (RFC 9000 §17.2.2, protected as RFC 9001 §5) carrying a real TLS
 * ClientHello for any SNI and ALPN, for probes: what an HTTP/3 client's first datagram looks like to
 * the gateway. The ClientHello comes from Node's TLS client (so it has no quic_transport_parameters
 * extension; the gateway reads only the SNI, as the platform's classifier does).
 */

/** Clients pad Initial datagrams to at least 1200 bytes (RFC 9000 §14.1). */
export const minInitialDatagramBytes = 1200;
const tlsRecordHeaderBytes = 5;
const packetNumberBytes = 4;
const lengthFieldBytes = 2;
const twoByteVarint = 0x4000;

function varint(n: number): Buffer {
  if (n < 0x40) return Buffer.from([n]);
  const b = Buffer.alloc(2);
  b.writeUInt16BE(twoByteVarint | n);
  return b;
}

/** Protects the plain frames into one Initial packet for `dcid` (pure given its inputs). */
export function protectClientInitial(frames: Buffer, dcid: Buffer, scid: Buffer = Buffer.alloc(0), packetNumber = 0): Buffer {
  const keys = clientInitialKeys(QuicVersion.V1, dcid)!;
  const first = LongHeader.Form | LongHeader.FixedBit | (packetNumberBytes - 1);
  const version = Buffer.alloc(4);
  version.writeUInt32BE(QuicVersion.V1);
  const token = varint(0);
  const fixed = Buffer.concat([Buffer.from([first]), version, Buffer.from([dcid.length]), dcid, Buffer.from([scid.length]), scid, token]);
  const room = minInitialDatagramBytes - fixed.length - lengthFieldBytes - packetNumberBytes - aeadTagLength;
  const payload = Buffer.concat([frames, Buffer.alloc(Math.max(0, room - frames.length), QuicFrame.Padding)]);
  const length = Buffer.alloc(2);
  length.writeUInt16BE(twoByteVarint | (packetNumberBytes + payload.length + aeadTagLength));
  const pn = Buffer.alloc(packetNumberBytes);
  pn.writeUInt32BE(packetNumber);
  const header = Buffer.concat([fixed, length, pn]);
  const nonce = Buffer.from(keys.iv);
  for (let i = 0; i < packetNumberBytes; i++) nonce[nonce.length - packetNumberBytes + i]! ^= pn[i]!;
  const aead = createCipheriv('aes-128-gcm', keys.key, nonce);
  aead.setAAD(header);
  const packet = Buffer.concat([header, aead.update(payload), aead.final(), aead.getAuthTag()]);
  const pnOffset = header.length - packetNumberBytes;
  const sample = packet.subarray(pnOffset + hpSampleOffset, pnOffset + hpSampleOffset + hpSampleLength);
  const mask = createCipheriv('aes-128-ecb', keys.hp, null).update(sample);
  packet[0]! ^= mask[0]! & longHeaderProtectedBits;
  for (let i = 0; i < packetNumberBytes; i++) packet[pnOffset + i]! ^= mask[1 + i]!;
  return packet;
}

/** A client Initial datagram whose ClientHello names `sni` (none when undefined) and offers `alpn` (default h3). */
export async function quicInitial(sni: string | undefined, alpn: readonly string[] = ['h3']): Promise<Buffer> {
  const record = await tlsClientHello(sni, [...alpn]);
  const hello = record.subarray(tlsRecordHeaderBytes);
  const crypto = Buffer.concat([Buffer.from([QuicFrame.Crypto]), varint(0), varint(hello.length), hello]);
  return protectClientInitial(crypto, randomBytes(8));
}
