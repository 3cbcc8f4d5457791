/**
 * Pure decoding of QUIC client Initial packets (RFC 9000 §17.2.2) for SNI extraction: initial keys
 * from the Destination Connection ID (RFC 9001 §5.2, RFC 9369 §3.3), header protection removal
 * (AES-ECB mask, RFC 9001 §5.4), AES-128-GCM payload decryption, and the frames an Initial may carry.
 * No I/O; node:crypto only.
 */
import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';

export const QuicVersion = { V1: 0x00000001, V2: 0x6b3343cf } as const;
export type QuicVersionNumber = (typeof QuicVersion)[keyof typeof QuicVersion];

interface VersionParams {
  salt: Buffer;
  /** Long-header packet type bits of an Initial (v2 reshuffled them, RFC 9369 §3.2). */
  initialType: number;
  keyLabel: string;
  ivLabel: string;
  hpLabel: string;
}

const versions = new Map<number, VersionParams>([
  [
    QuicVersion.V1,
    {
      salt: Buffer.from('38762cf7f55934b34d179ae6a4c80cadccbb7f0a', 'hex'),
      initialType: 0b00,
      keyLabel: 'quic key',
      ivLabel: 'quic iv',
      hpLabel: 'quic hp',
    },
  ],
  [
    QuicVersion.V2,
    {
      salt: Buffer.from('0dede3def700a6db819381be6e269dcbf9bd2ed9', 'hex'),
      initialType: 0b01,
      keyLabel: 'quicv2 key',
      ivLabel: 'quicv2 iv',
      hpLabel: 'quicv2 hp',
    },
  ],
]);

/** First-byte bits of a long header. */
export const LongHeader = { Form: 0x80, FixedBit: 0x40, TypeMask: 0x30, TypeShift: 4, PnLengthMask: 0x03 } as const;
/** Header protection masks 4 low bits of a long header's first byte (RFC 9001 §5.4.1). */
export const longHeaderProtectedBits = 0x0f;
export const maxConnectionIdLength = 20;
export const aeadTagLength = 16;
export const hpSampleLength = 16;
/** The sample starts 4 bytes after the packet number offset whatever the packet number length. */
export const hpSampleOffset = 4;

/** Frame types allowed in Initial packets (RFC 9000 §12.4, Table 3). */
export const QuicFrame = {
  Padding: 0x00,
  Ping: 0x01,
  Ack: 0x02,
  AckEcn: 0x03,
  Crypto: 0x06,
  ConnectionClose: 0x1c,
} as const;

export interface CryptoFrame {
  offset: number;
  data: Buffer;
}

export interface InitialKeys {
  key: Buffer;
  iv: Buffer;
  hp: Buffer;
}

export type QuicInitialDecode =
  | { kind: 'ok'; version: number; dcid: Buffer; scid: Buffer; crypto: CryptoFrame[] }
  | { kind: 'not-quic' }
  | { kind: 'malformed'; detail: string };

const sha256 = 'sha256';
const hashLength = 32;
const aesKeyLength = 16;
const gcmIvLength = 12;

/** HKDF-Expand-Label (RFC 8446 §7.1) for outputs of at most one hash block. */
function hkdfExpandLabel(secret: Buffer, label: string, length: number): Buffer {
  const fullLabel = Buffer.from(`tls13 ${label}`, 'latin1');
  const info = Buffer.alloc(2 + 1 + fullLabel.length + 1 + 1);
  info.writeUInt16BE(length, 0);
  info[2] = fullLabel.length;
  fullLabel.copy(info, 3);
  info[3 + fullLabel.length] = 0; // empty context
  info[info.length - 1] = 1; // HKDF-Expand block counter T(1)
  return createHmac(sha256, secret).update(info).digest().subarray(0, length);
}

/** The client's Initial keys for a Destination Connection ID (RFC 9001 §5.2; RFC 9369 §3.3). */
export function clientInitialKeys(version: number, dcid: Buffer): InitialKeys | undefined {
  const params = versions.get(version);
  if (params === undefined) return undefined;
  const initialSecret = createHmac(sha256, params.salt).update(dcid).digest(); // HKDF-Extract
  const clientSecret = hkdfExpandLabel(initialSecret, 'client in', hashLength);
  return {
    key: hkdfExpandLabel(clientSecret, params.keyLabel, aesKeyLength),
    iv: hkdfExpandLabel(clientSecret, params.ivLabel, gcmIvLength),
    hp: hkdfExpandLabel(clientSecret, params.hpLabel, aesKeyLength),
  };
}

/**
 * Key derivation costs five HMACs per packet; a connection's first flight (a ClientHello split over
 * several Initials, retransmissions) reuses one DCID, so recent keys are memoised. Bounded FIFO.
 */
const keyCacheLimit = 256;
const keyCache = new Map<string, InitialKeys>();

function cachedClientInitialKeys(version: number, dcid: Buffer): InitialKeys | undefined {
  const id = `${version}:${dcid.toString('hex')}`;
  const hit = keyCache.get(id);
  if (hit !== undefined) return hit;
  const keys = clientInitialKeys(version, dcid);
  if (keys === undefined) return undefined;
  if (keyCache.size >= keyCacheLimit) keyCache.delete(keyCache.keys().next().value as string);
  keyCache.set(id, keys);
  return keys;
}

/** A variable-length integer (RFC 9000 §16) at `p`: [value, next offset], or undefined if truncated. */
export function readVarint(buf: Buffer, p: number): [number, number] | undefined {
  if (p >= buf.length) return undefined;
  const first = buf[p]!;
  const length = 1 << (first >> 6);
  if (p + length > buf.length) return undefined;
  let value = first & 0x3f;
  for (let i = 1; i < length; i++) value = value * 256 + buf[p + i]!;
  return [value, p + length];
}

/**
 * Decrypts every client Initial packet at the start of a datagram (coalesced packets share the
 * datagram; Initials come first) and returns their CRYPTO frames. `not-quic` when the datagram does
 * not start with a v1/v2 Initial long header; `malformed` when it does but cannot be decrypted/parsed.
 */
export function decryptClientInitial(datagram: Buffer): QuicInitialDecode {
  const crypto: CryptoFrame[] = [];
  let first: { version: number; dcid: Buffer; scid: Buffer } | undefined;
  let keys: InitialKeys | undefined;
  let p = 0;
  while (p < datagram.length) {
    const header = parseInitialHeader(datagram, p);
    if (header.kind !== 'ok') {
      if (first === undefined) return header;
      break; // a following non-Initial packet (Handshake, 0-RTT) or padding: stop
    }
    if (first === undefined) {
      first = { version: header.version, dcid: header.dcid, scid: header.scid };
      keys = cachedClientInitialKeys(header.version, header.dcid);
    } else if (header.version !== first.version || !header.dcid.equals(first.dcid)) {
      break;
    }
    const payload = unprotect(datagram, header, keys!);
    if (payload === undefined) return { kind: 'malformed', detail: 'Initial packet failed to decrypt' };
    const frames = parseInitialFrames(payload, crypto);
    if (frames !== undefined) return { kind: 'malformed', detail: frames };
    p = header.end;
  }
  if (first === undefined) return { kind: 'not-quic' };
  return { kind: 'ok', ...first, crypto };
}

type HeaderParse =
  | { kind: 'ok'; version: number; dcid: Buffer; scid: Buffer; start: number; pnOffset: number; end: number }
  | { kind: 'not-quic' }
  | { kind: 'malformed'; detail: string };

function parseInitialHeader(d: Buffer, start: number): HeaderParse {
  const notQuic: HeaderParse = { kind: 'not-quic' };
  if (d.length - start < 7) return notQuic;
  const b0 = d[start]!;
  if ((b0 & LongHeader.Form) === 0 || (b0 & LongHeader.FixedBit) === 0) return notQuic;
  const version = d.readUInt32BE(start + 1);
  const params = versions.get(version);
  if (params === undefined) return notQuic;
  if ((b0 & LongHeader.TypeMask) >> LongHeader.TypeShift !== params.initialType) return notQuic;
  let p = start + 5;
  const dcidLength = d[p++]!;
  if (dcidLength > maxConnectionIdLength || p + dcidLength >= d.length) return { kind: 'malformed', detail: 'bad DCID' };
  const dcid = d.subarray(p, p + dcidLength);
  p += dcidLength;
  const scidLength = d[p++]!;
  if (scidLength > maxConnectionIdLength || p + scidLength > d.length) return { kind: 'malformed', detail: 'bad SCID' };
  const scid = d.subarray(p, p + scidLength);
  p += scidLength;
  const token = readVarint(d, p);
  if (token === undefined || token[1] + token[0] > d.length) return { kind: 'malformed', detail: 'bad token' };
  p = token[1] + token[0];
  const length = readVarint(d, p);
  if (length === undefined) return { kind: 'malformed', detail: 'bad length' };
  const pnOffset = length[1];
  const end = pnOffset + length[0];
  if (end > d.length) return { kind: 'malformed', detail: 'packet longer than the datagram' };
  if (length[0] < hpSampleOffset + hpSampleLength) return { kind: 'malformed', detail: 'packet too short to sample' };
  return { kind: 'ok', version, dcid, scid, start, pnOffset, end };
}

function unprotect(
  d: Buffer,
  { start, pnOffset, end }: { start: number; pnOffset: number; end: number },
  keys: InitialKeys,
): Buffer | undefined {
  const sampleStart = pnOffset + hpSampleOffset;
  const ecb = createCipheriv('aes-128-ecb', keys.hp, null);
  const mask = ecb.update(d.subarray(sampleStart, sampleStart + hpSampleLength));
  const b0 = d[start]! ^ (mask[0]! & longHeaderProtectedBits);
  const pnLength = (b0 & LongHeader.PnLengthMask) + 1;
  const header = Buffer.from(d.subarray(start, pnOffset + pnLength));
  header[0] = b0;
  const nonce = Buffer.from(keys.iv);
  const pnAt = pnOffset - start;
  for (let i = 0; i < pnLength; i++) {
    const byte = header[pnAt + i]! ^ mask[1 + i]!;
    header[pnAt + i] = byte;
    // The packet number is left-padded to the IV length and XORed into it (RFC 9001 §5.3).
    nonce[gcmIvLength - pnLength + i] = nonce[gcmIvLength - pnLength + i]! ^ byte;
  }
  const ciphertextEnd = end - aeadTagLength;
  const ciphertextStart = pnOffset + pnLength;
  if (ciphertextEnd < ciphertextStart) return undefined;
  try {
    const gcm = createDecipheriv('aes-128-gcm', keys.key, nonce);
    gcm.setAAD(header);
    gcm.setAuthTag(d.subarray(ciphertextEnd, end));
    const plain = gcm.update(d.subarray(ciphertextStart, ciphertextEnd));
    gcm.final(); // throws when the tag does not authenticate
    return plain;
  } catch {
    return undefined;
  }
}

/** Appends CRYPTO frames to `out`; returns an error detail, or undefined when the payload is valid. */
export function parseInitialFrames(payload: Buffer, out: CryptoFrame[]): string | undefined {
  let p = 0;
  while (p < payload.length) {
    const type = readVarint(payload, p);
    if (type === undefined) return 'truncated frame type';
    p = type[1];
    switch (type[0]) {
      case QuicFrame.Padding:
      case QuicFrame.Ping:
        break;
      case QuicFrame.Ack:
      case QuicFrame.AckEcn: {
        const fields = skipVarints(payload, p, 3); // largest acknowledged, delay, range count
        if (fields === undefined) return 'truncated ACK';
        const rangeCount = readVarint(payload, fields.last)![0];
        // Every range is two varints of at least one byte: more ranges than bytes is malformed.
        if (rangeCount * 2 > payload.length - fields.next) return 'bad ACK range count';
        const ranges = skipVarints(payload, fields.next, 1 + rangeCount * 2 + (type[0] === QuicFrame.AckEcn ? 3 : 0));
        if (ranges === undefined) return 'truncated ACK';
        p = ranges.next;
        break;
      }
      case QuicFrame.Crypto: {
        const offset = readVarint(payload, p);
        const length = offset && readVarint(payload, offset[1]);
        if (offset === undefined || length === undefined || length[1] + length[0] > payload.length) {
          return 'truncated CRYPTO';
        }
        out.push({ offset: offset[0], data: payload.subarray(length[1], length[1] + length[0]) });
        p = length[1] + length[0];
        break;
      }
      case QuicFrame.ConnectionClose: {
        const fields = skipVarints(payload, p, 3); // error code, frame type, reason length
        if (fields === undefined) return 'truncated CONNECTION_CLOSE';
        const reasonLength = readVarint(payload, fields.last)![0];
        if (fields.next + reasonLength > payload.length) return 'truncated CONNECTION_CLOSE';
        p = fields.next + reasonLength;
        break;
      }
      default:
        return `frame type ${type[0]} not allowed in an Initial packet`;
    }
  }
  return undefined;
}

/** Skips `count` varints from `p`: the offset after them and the offset of the last one. */
function skipVarints(buf: Buffer, p: number, count: number): { next: number; last: number } | undefined {
  let last = p;
  for (let i = 0; i < count; i++) {
    last = p;
    const v = readVarint(buf, p);
    if (v === undefined) return undefined;
    p = v[1];
  }
  return { next: p, last };
}
