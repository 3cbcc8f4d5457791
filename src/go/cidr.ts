/**
 * Go's `net.ParseCIDR` acceptance rules (Go 1.25: netip.ParseAddr for the address, no zone, a decimal
 * prefix length), which decide whether the manager accepts a traffic rule CIDR. Stricter than
 * ipaddr.js: no short or octal IPv4 forms ("10.1", "010.0.0.1"), no zones ("fe80::1%eth0"), no more
 * than four hex digits per IPv6 group; leading zeros in the prefix length are allowed ("/08").
 */

const IPV4_BITS = 32;
const IPV6_BITS = 128;
/** Go's dtoi gives up at this value (`big`). */
const DTOI_BIG = 0xffffff;

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const hexValue = (c: number): number => {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
};

/** netip's parseIPv4: four decimal fields 0..255, no empty field, no leading zero. */
function validIPv4(s: string): boolean {
  const fields = s.split('.');
  if (fields.length !== 4) return false;
  for (const f of fields) {
    if (f.length === 0 || f.length > 3) return false;
    for (let i = 0; i < f.length; i++) if (!isDigit(f.charCodeAt(i))) return false;
    if (f.length > 1 && f[0] === '0') return false;
    if (Number(f) > 255) return false;
  }
  return true;
}

/** netip's parseIPv6 (without a zone): hex fields of 1..4 digits, one `::` at most, an IPv4 tail allowed. */
function validIPv6(input: string): boolean {
  let s = input;
  let ellipsis = -1;
  if (s.startsWith('::')) {
    ellipsis = 0;
    s = s.slice(2);
    if (s.length === 0) return true;
  }
  let bytes = 0;
  while (bytes < 16) {
    let off = 0;
    for (; off < s.length; off++) {
      if (hexValue(s.charCodeAt(off)) < 0) break;
      if (off > 3) return false; // more than four hex digits
    }
    if (off === 0) return false;
    if (off < s.length && s[off] === '.') {
      // The embedded IPv4 replaces the final two fields, or follows a `::`.
      if (ellipsis < 0 && bytes !== 12) return false;
      if (bytes + 4 > 16) return false;
      if (!validIPv4(s)) return false;
      s = '';
      bytes += 4;
      break;
    }
    bytes += 2;
    s = s.slice(off);
    if (s.length === 0) break;
    if (s[0] !== ':' || s.length === 1) return false;
    s = s.slice(1);
    if (s[0] === ':') {
      if (ellipsis >= 0) return false;
      ellipsis = bytes;
      s = s.slice(1);
      if (s.length === 0) break;
    }
  }
  if (s.length !== 0) return false;
  if (bytes < 16) return ellipsis >= 0;
  return ellipsis < 0; // a `::` must stand for at least one zero field
}

/** The address part as netip.ParseAddr reads it: its bit length, or undefined (zones are refused). */
function addrBits(s: string): number | undefined {
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '.') return validIPv4(s) ? IPV4_BITS : undefined;
    if (c === ':') return validIPv6(s) ? IPV6_BITS : undefined;
    if (c === '%') return undefined;
  }
  return undefined;
}

/** Whether Go's `net.ParseCIDR(s)` succeeds. */
export function goParseCidrOk(s: string): boolean {
  const slash = s.indexOf('/');
  if (slash < 0) return false;
  const bits = addrBits(s.slice(0, slash));
  if (bits === undefined) return false;
  const mask = s.slice(slash + 1);
  let n = 0;
  let i = 0;
  for (; i < mask.length && isDigit(mask.charCodeAt(i)); i++) {
    n = n * 10 + (mask.charCodeAt(i) - 0x30);
    if (n >= DTOI_BIG) return false;
  }
  if (i === 0 || i !== mask.length) return false;
  return n <= bits;
}
