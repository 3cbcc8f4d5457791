/**
 * IP addresses and CIDRs with the platform's (Go `net`) parsing rules, in a form that evaluates without
 * allocating: IPv4 is a plain uint32 number, so the hot path (every flow) never builds an object.
 * ipaddr.js handles IPv6 and validation of the unusual forms; IPv4 in practice is all that matters.
 */
import ipaddr from 'ipaddr.js';

const DOT = 0x2e;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const IPV4_BITS = 32;
const IPV6_BITS = 128;
/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d) keeps its IPv4 part in the last 32 of 128 bits. */
const MAPPED_V4_PREFIX_BITS = 96;

/** A parsed address: IPv4 as a uint32; IPv6 (not IPv4-mapped) as an ipaddr.js object. */
export type ParsedIp = { family: 4; v4: number } | { family: 6; v6: ipaddr.IPv6 };

export type CompiledCidr =
  | { family: 4; text: string; base: number; mask: number }
  | { family: 6; text: string; network: ipaddr.IPv6; bits: number };

/**
 * Strict dotted-quad IPv4 (as Go's net.ParseIP: four decimal parts, no leading zeros) to a uint32,
 * or -1. Hand-written because it runs once per evaluated flow and must not allocate.
 */
export function parseIPv4(text: string): number {
  const len = text.length;
  if (len < 7 || len > 15) return -1;
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < len; i++) {
    const c = text.charCodeAt(i);
    if (c === DOT) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + part;
      dots++;
      part = 0;
      digits = 0;
      continue;
    }
    if (c < DIGIT_0 || c > DIGIT_9) return -1;
    if (digits === 1 && part === 0) return -1; // leading zero: Go rejects "01"
    part = part * 10 + (c - DIGIT_0);
    digits++;
    if (part > 255) return -1;
  }
  if (digits === 0 || dots !== 3) return -1;
  return value * 256 + part;
}

/** Any IP literal as Go's net.ParseIP accepts it (no zone); IPv4-mapped IPv6 becomes IPv4, as Go's To4. */
export function parseIp(text: string): ParsedIp | undefined {
  const v4 = parseIPv4(text);
  if (v4 >= 0) return { family: 4, v4 };
  if (!text.includes(':') || text.includes('%') || !ipaddr.IPv6.isValid(text)) return undefined;
  let v6: ipaddr.IPv6;
  try {
    v6 = ipaddr.IPv6.parse(text);
  } catch {
    return undefined;
  }
  if (v6.isIPv4MappedAddress()) return { family: 4, v4: v4ToNumber(v6.toIPv4Address()) };
  return { family: 6, v6 };
}

/** The canonical text of an address, as Go's IP.String(): dotted quad, or RFC 5952 IPv6. */
export function formatIp(ip: ParsedIp): string {
  if (ip.family === 4) {
    const n = ip.v4;
    return `${Math.floor(n / 0x1000000) & 0xff}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
  }
  return ip.v6.toRFC5952String();
}

export function ipEquals(a: ParsedIp, b: ParsedIp): boolean {
  if (a.family === 4) return b.family === 4 && a.v4 === b.v4;
  if (b.family !== 4) {
    const x = a.v6.parts;
    const y = b.v6.parts;
    for (let i = 0; i < 8; i++) if (x[i] !== y[i]) return false;
    return true;
  }
  return false;
}

function v4ToNumber(addr: ipaddr.IPv4): number {
  const [a = 0, b = 0, c = 0, d = 0] = addr.octets;
  return ((a << 24) >>> 0) + (b << 16) + (c << 8) + d;
}

function maskOf(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (IPV4_BITS - bits)) >>> 0;
}

/** Go's dtoi for the prefix length: decimal digits only (leading zeros fine), at least one. */
function parsePrefixLength(text: string): number {
  if (text.length === 0 || text.length > 6) return -1;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < DIGIT_0 || c > DIGIT_9) return -1;
    n = n * 10 + (c - DIGIT_0);
  }
  return n;
}

/**
 * A CIDR as Go's net.ParseCIDR accepts it: `addr/len`, host bits allowed (they are masked off), a bare
 * address rejected. An IPv4-mapped IPv6 CIDR with at least 96 bits matches IPv4 addresses, as Go's
 * IPNet.Contains does; anything else IPv6 only ever matches IPv6.
 */
export function parseCidr(text: string): CompiledCidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const addrText = text.slice(0, slash);
  const bits = parsePrefixLength(text.slice(slash + 1));
  if (bits < 0) return undefined;
  const addr = parseIPv4(addrText);
  if (addr >= 0) {
    if (bits > IPV4_BITS) return undefined;
    const mask = maskOf(bits);
    return { family: 4, text, base: (addr & mask) >>> 0, mask };
  }
  const parsed = parseIp(addrText);
  if (parsed === undefined || bits > IPV6_BITS) return undefined;
  if (parsed.family === 4) {
    // an IPv4-mapped address written as IPv6
    if (bits < MAPPED_V4_PREFIX_BITS) {
      const network = ipaddr.IPv6.parse(addrText);
      return { family: 6, text, network, bits };
    }
    const mask = maskOf(bits - MAPPED_V4_PREFIX_BITS);
    return { family: 4, text, base: (parsed.v4 & mask) >>> 0, mask };
  }
  return { family: 6, text, network: parsed.v6, bits };
}

/** Is an IPv4 address (uint32) inside any of the CIDRs? */
export function cidrsContainV4(cidrs: readonly CompiledCidr[], ip: number): boolean {
  for (let i = 0; i < cidrs.length; i++) {
    const c = cidrs[i]!;
    if (c.family === 4 && ((ip & c.mask) >>> 0) === c.base) return true;
  }
  return false;
}

export function cidrsContain(cidrs: readonly CompiledCidr[], ip: ParsedIp): boolean {
  if (ip.family === 4) return cidrsContainV4(cidrs, ip.v4);
  for (const c of cidrs) {
    if (c.family === 6 && ip.v6.match(c.network, c.bits)) return true;
  }
  return false;
}
