import ipaddr from 'ipaddr.js';
import { EmulatorError } from '../errors.js';

/**
 * SOCKS5 (RFC 1928) and username/password sub-negotiation (RFC 1929) codec. Pure: bytes in, values out.
 * Every `parseX(buf)` returns `{ value, length }` (bytes consumed, so pipelined bytes after a message are
 * kept), `undefined` when more bytes are needed, or throws `Socks5ProtocolError` for input that can never
 * become valid.
 */

export const SOCKS_VERSION = 0x05;
/** RFC 1929 sub-negotiation version. */
export const USER_PASS_VERSION = 0x01;
/** RFC 1929: ULEN and PLEN are single bytes. */
export const MAX_CREDENTIAL_BYTES = 255;
/** Domain names are length-prefixed by one byte. */
export const MAX_DOMAIN_BYTES = 255;

export const Socks5Method = {
  NoAuth: 0x00,
  Gssapi: 0x01,
  UsernamePassword: 0x02,
  NoAcceptable: 0xff,
} as const;
export type Socks5MethodCode = number;

export const Socks5Command = {
  Connect: 0x01,
  Bind: 0x02,
  UdpAssociate: 0x03,
} as const;
export type Socks5CommandCode = (typeof Socks5Command)[keyof typeof Socks5Command];

export const Socks5AddressType = {
  IPv4: 0x01,
  Domain: 0x03,
  IPv6: 0x04,
} as const;

export const Socks5Reply = {
  Succeeded: 0x00,
  GeneralFailure: 0x01,
  NotAllowedByRuleset: 0x02,
  NetworkUnreachable: 0x03,
  HostUnreachable: 0x04,
  ConnectionRefused: 0x05,
  TtlExpired: 0x06,
  CommandNotSupported: 0x07,
  AddressTypeNotSupported: 0x08,
} as const;
export type Socks5ReplyCode = (typeof Socks5Reply)[keyof typeof Socks5Reply];

export const UserPassStatus = {
  Success: 0x00,
  /** Any non-zero status is a failure (RFC 1929); this is the conventional one. */
  Failure: 0x01,
} as const;

const replyText: Record<number, string> = {
  [Socks5Reply.Succeeded]: 'succeeded',
  [Socks5Reply.GeneralFailure]: 'general SOCKS server failure',
  [Socks5Reply.NotAllowedByRuleset]: 'connection not allowed by ruleset',
  [Socks5Reply.NetworkUnreachable]: 'network unreachable',
  [Socks5Reply.HostUnreachable]: 'host unreachable',
  [Socks5Reply.ConnectionRefused]: 'connection refused',
  [Socks5Reply.TtlExpired]: 'TTL expired',
  [Socks5Reply.CommandNotSupported]: 'command not supported',
  [Socks5Reply.AddressTypeNotSupported]: 'address type not supported',
};

/** RFC 1928 wording of a reply code, e.g. `0x08 address type not supported`. */
export function describeReply(code: number): string {
  return `${hexByte(code)} ${replyText[code] ?? 'unassigned reply code'}`;
}

export function describeMethod(method: number): string {
  switch (method) {
    case Socks5Method.NoAuth:
      return `${hexByte(method)} no authentication`;
    case Socks5Method.Gssapi:
      return `${hexByte(method)} GSSAPI`;
    case Socks5Method.UsernamePassword:
      return `${hexByte(method)} username/password`;
    case Socks5Method.NoAcceptable:
      return `${hexByte(method)} no acceptable methods`;
    default:
      return `${hexByte(method)} unknown method`;
  }
}

export const hexByte = (n: number): string => `0x${n.toString(16).padStart(2, '0')}`;

export type Socks5Atyp = 'ipv4' | 'domain' | 'ipv6';

export interface Socks5Address {
  atyp: Socks5Atyp;
  /** Dotted quad, compact IPv6 text, or the domain name as sent. */
  host: string;
  port: number;
}

export interface Greeting {
  methods: number[];
}

export interface MethodSelection {
  method: number;
}

export interface UserPassRequest {
  username: string;
  password: string;
}

export interface UserPassStatusMessage {
  status: number;
}

export interface Socks5Request {
  command: number;
  address: Socks5Address;
}

export interface Socks5ReplyMessage {
  code: number;
  bound: Socks5Address;
}

export interface Parsed<T> {
  value: T;
  /** Bytes of the input this message occupies. */
  length: number;
}

export type Socks5ProtocolErrorCode =
  | 'socks5_bad_version'
  | 'socks5_no_methods'
  | 'socks5_bad_auth_version'
  | 'socks5_bad_reserved'
  | 'socks5_bad_address_type'
  | 'socks5_empty_domain'
  | 'socks5_credential_too_long'
  | 'socks5_domain_too_long'
  | 'socks5_bad_address'
  | 'socks5_truncated_datagram';

export class Socks5ProtocolError extends EmulatorError {
  declare readonly code: Socks5ProtocolErrorCode;
  /** The reply a server should send before closing, when the failure is in a request. */
  readonly reply: Socks5ReplyCode | undefined;

  constructor(code: Socks5ProtocolErrorCode, message: string, reply?: Socks5ReplyCode) {
    super(code, message);
    this.name = 'Socks5ProtocolError';
    this.reply = reply;
  }
}

function expectVersion(actual: number, expected: number, what: string): void {
  if (actual !== expected) {
    const code = expected === USER_PASS_VERSION ? 'socks5_bad_auth_version' : 'socks5_bad_version';
    throw new Socks5ProtocolError(code, `${what}: expected version ${hexByte(expected)}, got ${hexByte(actual)}`);
  }
}

// ---- greeting: VER NMETHODS METHODS...

export function parseGreeting(buf: Uint8Array): Parsed<Greeting> | undefined {
  if (buf.length < 1) return undefined;
  expectVersion(buf[0]!, SOCKS_VERSION, 'greeting');
  if (buf.length < 2) return undefined;
  const n = buf[1]!;
  if (n === 0) throw new Socks5ProtocolError('socks5_no_methods', 'greeting offers no authentication methods');
  if (buf.length < 2 + n) return undefined;
  return { value: { methods: Array.from(buf.subarray(2, 2 + n)) }, length: 2 + n };
}

export function encodeGreeting({ methods }: Greeting): Buffer {
  if (methods.length < 1 || methods.length > 255) throw new RangeError('a greeting offers 1 to 255 methods');
  return Buffer.from([SOCKS_VERSION, methods.length, ...methods]);
}

// ---- method selection: VER METHOD

export function parseMethodSelection(buf: Uint8Array): Parsed<MethodSelection> | undefined {
  if (buf.length < 1) return undefined;
  expectVersion(buf[0]!, SOCKS_VERSION, 'method selection');
  if (buf.length < 2) return undefined;
  return { value: { method: buf[1]! }, length: 2 };
}

export function encodeMethodSelection({ method }: MethodSelection): Buffer {
  return Buffer.from([SOCKS_VERSION, method]);
}

// ---- RFC 1929: VER ULEN UNAME PLEN PASSWD / VER STATUS

export function parseUserPassRequest(buf: Uint8Array): Parsed<UserPassRequest> | undefined {
  if (buf.length < 1) return undefined;
  expectVersion(buf[0]!, USER_PASS_VERSION, 'username/password request');
  if (buf.length < 2) return undefined;
  const ulen = buf[1]!;
  if (buf.length < 3 + ulen) return undefined;
  const plen = buf[2 + ulen]!;
  const length = 3 + ulen + plen;
  if (buf.length < length) return undefined;
  const bytes = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return {
    value: { username: bytes.toString('utf8', 2, 2 + ulen), password: bytes.toString('utf8', 3 + ulen, length) },
    length,
  };
}

export function encodeUserPassRequest({ username, password }: UserPassRequest): Buffer {
  const u = Buffer.from(username, 'utf8');
  const p = Buffer.from(password, 'utf8');
  if (u.length > MAX_CREDENTIAL_BYTES || p.length > MAX_CREDENTIAL_BYTES) {
    // The message must not say which value or echo it: it may be a secret.
    throw new Socks5ProtocolError('socks5_credential_too_long', 'username and password are limited to 255 bytes each (RFC 1929)');
  }
  return Buffer.concat([Buffer.from([USER_PASS_VERSION, u.length]), u, Buffer.from([p.length]), p]);
}

export function parseUserPassStatus(buf: Uint8Array): Parsed<UserPassStatusMessage> | undefined {
  if (buf.length < 1) return undefined;
  expectVersion(buf[0]!, USER_PASS_VERSION, 'username/password status');
  if (buf.length < 2) return undefined;
  return { value: { status: buf[1]! }, length: 2 };
}

export function encodeUserPassStatus({ status }: UserPassStatusMessage): Buffer {
  return Buffer.from([USER_PASS_VERSION, status]);
}

// ---- addresses: ATYP ADDR PORT

/** Parses ATYP + address + port at `offset`; shared by requests and replies. */
export function parseAddress(buf: Uint8Array, offset: number): Parsed<Socks5Address> | undefined {
  if (buf.length < offset + 1) return undefined;
  const atyp = buf[offset]!;
  let host: string;
  let end: number;
  switch (atyp) {
    case Socks5AddressType.IPv4: {
      end = offset + 1 + 4;
      if (buf.length < end + 2) return undefined;
      host = `${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}.${buf[offset + 4]}`;
      break;
    }
    case Socks5AddressType.IPv6: {
      end = offset + 1 + 16;
      if (buf.length < end + 2) return undefined;
      host = ipaddr.fromByteArray(Array.from(buf.subarray(offset + 1, end))).toString();
      break;
    }
    case Socks5AddressType.Domain: {
      if (buf.length < offset + 2) return undefined;
      const len = buf[offset + 1]!;
      if (len === 0) throw new Socks5ProtocolError('socks5_empty_domain', 'empty domain name', Socks5Reply.GeneralFailure);
      end = offset + 2 + len;
      if (buf.length < end + 2) return undefined;
      host = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('utf8', offset + 2, end);
      break;
    }
    default:
      throw new Socks5ProtocolError(
        'socks5_bad_address_type',
        `unknown address type ${hexByte(atyp)}`,
        Socks5Reply.AddressTypeNotSupported,
      );
  }
  const port = (buf[end]! << 8) | buf[end + 1]!;
  const kind: Socks5Atyp = atyp === Socks5AddressType.IPv4 ? 'ipv4' : atyp === Socks5AddressType.IPv6 ? 'ipv6' : 'domain';
  return { value: { atyp: kind, host, port }, length: end + 2 - offset };
}

/** ATYP + address + port, as in requests, replies and UDP datagrams. */
export function encodeAddress({ atyp, host, port }: Socks5Address): Buffer {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Socks5ProtocolError('socks5_bad_address', `port out of range: ${port}`);
  }
  // One allocation per address: it is encoded for every request and reply.
  if (atyp === 'domain') {
    const length = Buffer.byteLength(host, 'utf8');
    if (length === 0) throw new Socks5ProtocolError('socks5_empty_domain', 'empty domain name');
    if (length > MAX_DOMAIN_BYTES) {
      throw new Socks5ProtocolError('socks5_domain_too_long', `domain name is ${length} bytes; at most 255 fit in a request`);
    }
    const out = Buffer.allocUnsafe(2 + length + 2);
    out[0] = Socks5AddressType.Domain;
    out[1] = length;
    out.write(host, 2, 'utf8');
    out.writeUInt16BE(port, 2 + length);
    return out;
  }
  const want = atyp === 'ipv4' ? 'ipv4' : 'ipv6';
  let bytes: number[];
  try {
    const parsed = ipaddr.parse(host);
    if (parsed.kind() !== want) throw new Error('wrong family');
    bytes = parsed.toByteArray();
  } catch {
    throw new Socks5ProtocolError('socks5_bad_address', `not an ${want} address: ${JSON.stringify(host)}`);
  }
  const out = Buffer.allocUnsafe(1 + bytes.length + 2);
  out[0] = atyp === 'ipv4' ? Socks5AddressType.IPv4 : Socks5AddressType.IPv6;
  out.set(bytes, 1);
  out.writeUInt16BE(port, 1 + bytes.length);
  return out;
}

/** VER + two bytes + an encoded address, in one buffer (requests and replies). */
function withHead(second: number, address: Buffer): Buffer {
  const out = Buffer.allocUnsafe(3 + address.length);
  out[0] = SOCKS_VERSION;
  out[1] = second;
  out[2] = 0x00;
  address.copy(out, 3);
  return out;
}

/** The address kind a host string needs: an IP literal keeps its family, anything else is a domain. */
export function addressFor(host: string, port: number): Socks5Address {
  const unbracketed = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (ipaddr.IPv4.isValidFourPartDecimal(unbracketed)) return { atyp: 'ipv4', host: unbracketed, port };
  if (ipaddr.IPv6.isValid(unbracketed)) return { atyp: 'ipv6', host: ipaddr.parse(unbracketed).toString(), port };
  return { atyp: 'domain', host, port };
}

// ---- request: VER CMD RSV ATYP DST.ADDR DST.PORT

export function parseRequest(buf: Uint8Array): Parsed<Socks5Request> | undefined {
  if (buf.length < 1) return undefined;
  expectVersion(buf[0]!, SOCKS_VERSION, 'request');
  if (buf.length < 3) return undefined;
  if (buf[2] !== 0x00) {
    throw new Socks5ProtocolError('socks5_bad_reserved', `request reserved byte must be 0x00, got ${hexByte(buf[2]!)}`, Socks5Reply.GeneralFailure);
  }
  const address = parseAddress(buf, 3);
  if (!address) return undefined;
  return { value: { command: buf[1]!, address: address.value }, length: 3 + address.length };
}

export function encodeRequest({ command, address }: Socks5Request): Buffer {
  return withHead(command, encodeAddress(address));
}

// ---- reply: VER REP RSV ATYP BND.ADDR BND.PORT

/** The unspecified bound address replies carry when there is nothing better to say. */
export const unspecifiedBound: Socks5Address = { atyp: 'ipv4', host: '0.0.0.0', port: 0 };

export function parseReply(buf: Uint8Array): Parsed<Socks5ReplyMessage> | undefined {
  if (buf.length < 1) return undefined;
  expectVersion(buf[0]!, SOCKS_VERSION, 'reply');
  if (buf.length < 3) return undefined;
  // Some proxies put garbage in RSV; a client has no reason to care, so it is not checked here.
  const bound = parseAddress(buf, 3);
  if (!bound) return undefined;
  return { value: { code: buf[1]!, bound: bound.value }, length: 3 + bound.length };
}

// Most replies carry the unspecified address: encoded once.
let unspecifiedBoundBytes: Buffer | undefined;

export function encodeReply({ code, bound = unspecifiedBound }: { code: number; bound?: Socks5Address }): Buffer {
  const address = bound === unspecifiedBound ? (unspecifiedBoundBytes ??= encodeAddress(unspecifiedBound)) : encodeAddress(bound);
  return withHead(code, address);
}
