/**
 * Test-only builders: synthetic ClientHellos, TLS records and encrypted QUIC Initial packets, so that
 * golden and fuzz cases can vary one field at a time. Real captured handshakes are in
 * fixtures/handshakes and in the integration tests.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { clientInitialKeys, QuicVersion } from '../../../src/classify/quic-initial.js';

export interface HelloSpec {
  serverName?: string;
  /** Raw server_name entries (type, name) to build odd lists; overrides serverName. */
  sniEntries?: { type: number; name: string }[];
  alpn?: string[];
  /** Extra extensions placed before SNI. */
  extra?: { type: number; data: Buffer }[];
  sessionId?: Buffer;
  noExtensions?: boolean;
}

const u16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};
const u24 = (n: number): Buffer => Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
const ext = (type: number, data: Buffer): Buffer => Buffer.concat([u16(type), u16(data.length), data]);

/** A ClientHello handshake message (with its 4-byte header). */
export function clientHelloMessage(spec: HelloSpec = {}): Buffer {
  const sessionId = spec.sessionId ?? Buffer.alloc(32, 7);
  const body: Buffer[] = [
    Buffer.from([0x03, 0x03]),
    Buffer.alloc(32, 0xab),
    Buffer.from([sessionId.length]),
    sessionId,
    u16(4),
    Buffer.from([0x13, 0x01, 0x13, 0x02]),
    Buffer.from([1, 0]),
  ];
  if (!spec.noExtensions) {
    const extensions: Buffer[] = [];
    for (const e of spec.extra ?? []) extensions.push(ext(e.type, e.data));
    const entries = spec.sniEntries ?? (spec.serverName === undefined ? undefined : [{ type: 0, name: spec.serverName }]);
    if (entries) {
      const list = Buffer.concat(entries.map((e) => Buffer.concat([Buffer.from([e.type]), u16(e.name.length), Buffer.from(e.name, 'latin1')])));
      extensions.push(ext(0x0000, Buffer.concat([u16(list.length), list])));
    }
    extensions.push(ext(0x000a, Buffer.from('0004001d0017', 'hex'))); // supported_groups
    if (spec.alpn) {
      const list = Buffer.concat(spec.alpn.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, 'latin1')])));
      extensions.push(ext(0x0010, Buffer.concat([u16(list.length), list])));
    }
    extensions.push(ext(0x002b, Buffer.from('020304', 'hex'))); // supported_versions
    const all = Buffer.concat(extensions);
    body.push(u16(all.length), all);
  }
  const b = Buffer.concat(body);
  return Buffer.concat([Buffer.from([0x01]), u24(b.length), b]);
}

/** Wraps a handshake message in TLS handshake records of at most `fragment` bytes each. */
export function tlsRecords(message: Buffer, fragment = 16_384): Buffer {
  const records: Buffer[] = [];
  for (let i = 0; i < message.length; i += fragment) {
    const part = message.subarray(i, i + fragment);
    records.push(Buffer.concat([Buffer.from([0x16, 0x03, 0x01]), u16(part.length), part]));
  }
  return Buffer.concat(records);
}

export function clientHelloRecord(spec: HelloSpec = {}): Buffer {
  return tlsRecords(clientHelloMessage(spec));
}

const varint = (n: number): Buffer => {
  if (n < 0x40) return Buffer.from([n]);
  if (n < 0x4000) return u16(0x4000 | n);
  const b = Buffer.alloc(4);
  b.writeUInt32BE((0x80000000 | n) >>> 0);
  return b;
};

/** A CRYPTO frame carrying `data` at stream `offset`. */
export function cryptoFrame(offset: number, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x06]), varint(offset), varint(data.length), data]);
}

export interface InitialSpec {
  version?: number;
  dcid?: Buffer;
  scid?: Buffer;
  packetNumber?: number;
  /** Plain frames; padded with PADDING to `padTo` bytes of datagram. */
  frames: Buffer;
  padTo?: number;
}

/** Encrypts a client Initial packet (RFC 9001 §5) — the inverse of what the classifier does. */
export function clientInitialPacket({
  version = QuicVersion.V1,
  dcid = randomBytes(8),
  scid = Buffer.alloc(0),
  packetNumber = 0,
  frames,
  padTo = 1200,
}: InitialSpec): Buffer {
  const keys = clientInitialKeys(version, dcid)!;
  const pnLength = 4;
  const initialType = version === QuicVersion.V2 ? 0b01 : 0b00;
  const first = 0xc0 | (initialType << 4) | (pnLength - 1);
  const fixedHeader = Buffer.concat([Buffer.from([first]), u16(version >>> 16), u16(version & 0xffff), Buffer.from([dcid.length]), dcid, Buffer.from([scid.length]), scid, varint(0)]);
  const headerWithoutLength = fixedHeader.length;
  const lengthFieldSize = 2;
  const plainLength = Math.max(frames.length, padTo - headerWithoutLength - lengthFieldSize - pnLength - 16);
  const payload = Buffer.concat([frames, Buffer.alloc(plainLength - frames.length)]);
  const pn = Buffer.alloc(4);
  pn.writeUInt32BE(packetNumber);
  const header = Buffer.concat([fixedHeader, u16(0x4000 | (pnLength + payload.length + 16)), pn]);
  const nonce = Buffer.from(keys.iv);
  for (let i = 0; i < 4; i++) nonce[8 + i] = nonce[8 + i]! ^ pn[i]!;
  const gcm = createCipheriv('aes-128-gcm', keys.key, nonce);
  gcm.setAAD(header);
  const ciphertext = Buffer.concat([gcm.update(payload), gcm.final(), gcm.getAuthTag()]);
  const packet = Buffer.concat([header, ciphertext]);
  const pnOffset = header.length - pnLength;
  const sample = packet.subarray(pnOffset + 4, pnOffset + 20);
  const mask = createCipheriv('aes-128-ecb', keys.hp, null).update(sample);
  packet[0] = packet[0]! ^ (mask[0]! & 0x0f);
  for (let i = 0; i < pnLength; i++) packet[pnOffset + i] = packet[pnOffset + i]! ^ mask[1 + i]!;
  return packet;
}

export { prng } from '../../helpers/fuzz.js';
