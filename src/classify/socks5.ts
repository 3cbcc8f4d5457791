import { needMore, noMatch, type ProtocolMatch } from './protocol-match.js';

/** RFC 1928 §3: VER (5), NMETHODS, then NMETHODS method bytes. */
export const socks5Version = 0x05;
const greetingHeaderLength = 2;

/** socks5: a version-5 greeting with n (≥ 1) methods. Carries no host. */
export function matchSocks5(buf: Buffer): ProtocolMatch {
  if (buf.length === 0) return needMore;
  if (buf[0] !== socks5Version) return noMatch;
  if (buf.length < greetingHeaderLength) return needMore;
  const methods = buf[1]!;
  if (methods === 0) return noMatch;
  if (buf.length < greetingHeaderLength + methods) return needMore;
  return { kind: 'matched', appProtocol: 'socks5' };
}
