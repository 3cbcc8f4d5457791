/**
 * A pure parser of TLS ClientHello messages: the record layer (handshake fragmented across several
 * records, records split across reads) and the handshake body, which QUIC carries in CRYPTO frames.
 * Only what classification needs is extracted: the SNI host_name and the ALPN protocol list.
 */

/** TLS record content type of handshake records. */
export const TlsContentType = { Handshake: 0x16 } as const;
/** Handshake message types. */
export const TlsHandshakeType = { ClientHello: 0x01 } as const;
/** Extension ids (IANA TLS ExtensionType registry). */
export const TlsExtension = { ServerName: 0x0000, Alpn: 0x0010 } as const;
/** server_name NameType. */
export const SniNameType = { HostName: 0x00 } as const;

export const tlsRecordHeaderLength = 5;
export const tlsHandshakeHeaderLength = 4;
/** Legacy record versions all have major version 3 (SSL 3.0 .. TLS 1.3). */
export const tlsRecordMajorVersion = 0x03;
/** A record fragment may not exceed 2^14 bytes plus the TLSCiphertext allowance (RFC 8446 §5.2). */
export const tlsMaxRecordLength = 16_384 + 2_048;
const randomLength = 32;
const maxSessionIdLength = 32;

export interface ClientHelloInfo {
  /** The first host_name in server_name, as sent (not lowercased); undefined when absent. */
  serverName?: string;
  /** ALPN protocol names in the client's order; undefined when the extension is absent. */
  alpn?: string[];
}

export type ClientHelloParse =
  | { kind: 'ok'; hello: ClientHelloInfo }
  | { kind: 'need-more' }
  | { kind: 'malformed'; detail: string };

const needMore: ClientHelloParse = Object.freeze({ kind: 'need-more' });
const malformed = (detail: string): ClientHelloParse => ({ kind: 'malformed', detail });

/**
 * Parses a ClientHello from the start of a TLS byte stream. The handshake message may span several
 * handshake records; `need-more` until the whole message is there. `not-tls` when the first bytes
 * are not a handshake record carrying a ClientHello.
 */
export function parseTlsClientHelloRecords(buf: Buffer): ClientHelloParse | { kind: 'not-tls' } {
  if (buf.length === 0) return needMore;
  if (buf[0] !== TlsContentType.Handshake) return { kind: 'not-tls' };
  if (buf.length >= 2 && buf[1] !== tlsRecordMajorVersion) return { kind: 'not-tls' };
  if (buf.length < tlsRecordHeaderLength + 1) return needMore;
  if (buf[tlsRecordHeaderLength] !== TlsHandshakeType.ClientHello) return { kind: 'not-tls' };

  // Fast path: the whole handshake message inside the first record (by far the common case).
  const firstLength = buf.readUInt16BE(3);
  if (firstLength === 0 || firstLength > tlsMaxRecordLength) return malformed('bad record length');
  if (buf.length >= tlsRecordHeaderLength + tlsHandshakeHeaderLength && firstLength >= tlsHandshakeHeaderLength) {
    const messageLength = buf.readUIntBE(tlsRecordHeaderLength + 1, 3);
    if (messageLength + tlsHandshakeHeaderLength <= firstLength) {
      if (buf.length < tlsRecordHeaderLength + firstLength) return needMore;
      const start = tlsRecordHeaderLength + tlsHandshakeHeaderLength;
      return parseClientHelloBody(buf.subarray(start, start + messageLength));
    }
  }

  // Slow path: concatenate handshake fragments record by record until the message is complete.
  const fragments: Buffer[] = [];
  let collected = 0;
  let wanted = -1; // handshake header + body, once the 4-byte header is known
  let offset = 0;
  while (wanted < 0 || collected < wanted) {
    if (buf.length - offset < tlsRecordHeaderLength) return needMore;
    if (buf[offset] !== TlsContentType.Handshake) return malformed('non-handshake record inside the ClientHello');
    if (buf[offset + 1] !== tlsRecordMajorVersion) return malformed('bad record version');
    const length = buf.readUInt16BE(offset + 3);
    if (length === 0 || length > tlsMaxRecordLength) return malformed('bad record length');
    const end = offset + tlsRecordHeaderLength + length;
    // Take what this read holds of the record: enough to learn the message length early.
    const fragment = buf.subarray(offset + tlsRecordHeaderLength, Math.min(end, buf.length));
    fragments.push(fragment);
    collected += fragment.length;
    if (wanted < 0 && collected >= tlsHandshakeHeaderLength) {
      const head = fragments.length === 1 ? fragment : Buffer.concat(fragments, collected);
      wanted = tlsHandshakeHeaderLength + head.readUIntBE(1, 3);
    }
    if (end > buf.length) {
      return wanted >= 0 && collected >= wanted ? assemble(fragments, collected, wanted) : needMore;
    }
    offset = end;
  }
  return assemble(fragments, collected, wanted);
}

function assemble(fragments: Buffer[], collected: number, wanted: number): ClientHelloParse {
  const message = Buffer.concat(fragments, collected);
  return parseClientHelloBody(message.subarray(tlsHandshakeHeaderLength, wanted));
}

/**
 * Parses a ClientHello handshake body (after the 4-byte handshake header): legacy_version, random,
 * legacy_session_id, cipher_suites, legacy_compression_methods, extensions. Also used by QUIC, whose
 * CRYPTO frames carry the handshake message without TLS records.
 */
export function parseClientHelloBody(body: Buffer): ClientHelloParse {
  let p = 2 + randomLength;
  if (body.length < p + 1) return malformed('truncated ClientHello');
  const sessionIdLength = body[p]!;
  if (sessionIdLength > maxSessionIdLength) return malformed('bad session id length');
  p += 1 + sessionIdLength;
  if (body.length < p + 2) return malformed('truncated ClientHello');
  const cipherSuitesLength = body.readUInt16BE(p);
  if (cipherSuitesLength % 2 !== 0) return malformed('bad cipher suites length');
  p += 2 + cipherSuitesLength;
  if (body.length < p + 1) return malformed('truncated ClientHello');
  p += 1 + body[p]!;
  if (body.length < p) return malformed('truncated ClientHello');
  const hello: ClientHelloInfo = {};
  if (body.length === p) return { kind: 'ok', hello }; // no extensions at all (pre-TLS 1.2 style)
  if (body.length < p + 2) return malformed('truncated extensions');
  const extensionsEnd = p + 2 + body.readUInt16BE(p);
  if (extensionsEnd > body.length) return malformed('truncated extensions');
  p += 2;
  while (p < extensionsEnd) {
    if (extensionsEnd - p < 4) return malformed('truncated extension header');
    const type = body.readUInt16BE(p);
    const length = body.readUInt16BE(p + 2);
    const start = p + 4;
    const end = start + length;
    if (end > extensionsEnd) return malformed('truncated extension');
    if (type === TlsExtension.ServerName && hello.serverName === undefined) {
      const name = parseServerName(body, start, end);
      if (name === null) return malformed('bad server_name extension');
      if (name !== undefined) hello.serverName = name;
    } else if (type === TlsExtension.Alpn && hello.alpn === undefined) {
      const alpn = parseAlpn(body, start, end);
      if (alpn === null) return malformed('bad ALPN extension');
      hello.alpn = alpn;
    }
    p = end;
  }
  return { kind: 'ok', hello };
}

/** ServerNameList: u16 list length, then (u8 type, u16 length, name) entries. */
function parseServerName(body: Buffer, start: number, end: number): string | undefined | null {
  if (end - start < 2) return null;
  const listEnd = start + 2 + body.readUInt16BE(start);
  if (listEnd !== end) return null;
  let p = start + 2;
  while (p < listEnd) {
    if (listEnd - p < 3) return null;
    const nameType = body[p]!;
    const nameLength = body.readUInt16BE(p + 1);
    const nameEnd = p + 3 + nameLength;
    if (nameEnd > listEnd) return null;
    if (nameType === SniNameType.HostName) return body.toString('latin1', p + 3, nameEnd);
    p = nameEnd;
  }
  return undefined;
}

/** ProtocolNameList: u16 list length, then (u8 length, name) entries. */
function parseAlpn(body: Buffer, start: number, end: number): string[] | null {
  if (end - start < 2) return null;
  const listEnd = start + 2 + body.readUInt16BE(start);
  if (listEnd !== end) return null;
  const names: string[] = [];
  let p = start + 2;
  while (p < listEnd) {
    const nameEnd = p + 1 + body[p]!;
    if (nameEnd > listEnd) return null;
    names.push(body.toString('latin1', p + 1, nameEnd));
    p = nameEnd;
  }
  return names;
}
