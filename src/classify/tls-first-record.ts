/**
 * The TCP classifier's view of a ClientHello, as upstream parses it (proxy/classifier.go
 * parseTLSClientHello, lines 494-640 @b1f245c2): only the first TLS record is read, the record's
 * length bounds everything (the handshake length field is not used), the record version byte is not
 * checked, and a structure that is cut short inside the record waits for more bytes (which never help:
 * a ClientHello spread over several records times out, or is unclassified at EOF). The first
 * host_name in server_name is the SNI; anything that ends early after the compression methods or
 * between extensions is a ClientHello without SNI.
 */
import { TlsContentType, TlsExtension, TlsHandshakeType, SniNameType, tlsRecordHeaderLength } from './tls-client-hello.js';

export type FirstRecordHello = { kind: 'hello'; serverName?: string } | { kind: 'need-more' } | { kind: 'no-match' };

const needMore: FirstRecordHello = { kind: 'need-more' };
const noMatch: FirstRecordHello = { kind: 'no-match' };
/** Handshake header (type + 24-bit length) then legacy_version (2) and random (32). */
const helloFixedPrefix = tlsRecordHeaderLength + 4;
const versionAndRandom = 2 + 32;

export function parseFirstRecordClientHello(data: Buffer): FirstRecordHello {
  if (data.length === 0) return needMore;
  if (data[0] !== TlsContentType.Handshake) return noMatch;
  if (data.length < tlsRecordHeaderLength) return needMore;
  const recordEnd = tlsRecordHeaderLength + data.readUInt16BE(3);
  if (recordEnd > data.length) return needMore;
  if (recordEnd <= helloFixedPrefix || data[tlsRecordHeaderLength] !== TlsHandshakeType.ClientHello) return noMatch;
  let offset = helloFixedPrefix;
  if (offset + versionAndRandom > recordEnd) return needMore;
  offset += versionAndRandom;
  if (offset >= recordEnd) return needMore;
  offset += 1 + data[offset]!; // legacy_session_id
  if (offset > recordEnd) return needMore;
  if (offset + 2 > recordEnd) return needMore;
  offset += 2 + data.readUInt16BE(offset); // cipher_suites
  if (offset > recordEnd) return needMore;
  if (offset >= recordEnd) return needMore;
  offset += 1 + data[offset]!; // legacy_compression_methods
  if (offset > recordEnd) return needMore;
  if (offset === recordEnd) return { kind: 'hello' };
  if (offset + 2 > recordEnd) return needMore;
  const end = offset + 2 + data.readUInt16BE(offset);
  offset += 2;
  if (end > recordEnd) return needMore;
  while (offset + 4 <= end) {
    const type = data.readUInt16BE(offset);
    const size = data.readUInt16BE(offset + 2);
    offset += 4;
    if (offset + size > end) return needMore;
    if (type !== TlsExtension.ServerName) {
      offset += size;
      continue;
    }
    if (offset + 2 > end) return needMore;
    const listEnd = offset + 2 + data.readUInt16BE(offset);
    offset += 2;
    if (listEnd > end) return needMore;
    while (offset + 3 <= listEnd) {
      const nameType = data[offset]!;
      const nameLength = data.readUInt16BE(offset + 1);
      offset += 3;
      if (offset + nameLength > listEnd) return needMore;
      if (nameType === SniNameType.HostName) return { kind: 'hello', serverName: data.toString('latin1', offset, offset + nameLength) };
      offset += nameLength;
    }
    return { kind: 'hello' };
  }
  return { kind: 'hello' };
}
