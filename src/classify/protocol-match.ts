import type { AppProtocol, UnknownReason } from '../policy/types.js';

/**
 * What one protocol matcher says about the first client bytes. `need-more` means the bytes are a
 * prefix of something it would match; `unknown` means it recognised the protocol but the traffic
 * cannot be classified (e.g. a ClientHello without SNI).
 */
export type ProtocolMatch =
  | { kind: 'matched'; appProtocol: AppProtocol; host?: string; alpn?: string[] }
  | { kind: 'no-match' }
  | { kind: 'need-more' }
  | { kind: 'unknown'; reason: UnknownReason };

/** A matcher over the first client bytes. Pure: never throws, never reads beyond `buf`. */
export type ProtocolMatcher = (buf: Buffer) => ProtocolMatch;

/** The classifier's answer for a TCP flow (and, with `appProtocol: 'udp'`, for a datagram). */
export type Classification =
  | { kind: 'known'; appProtocol: AppProtocol; host?: string; alpn?: string[] }
  | { kind: 'unknown'; reason: UnknownReason };

export type TcpClassification = Classification | { kind: 'need-more' };

export const noMatch: ProtocolMatch = Object.freeze({ kind: 'no-match' });
export const needMore: ProtocolMatch = Object.freeze({ kind: 'need-more' });

/** True when `buf` and `expected` agree on their common prefix (so `buf` may still become `expected`). */
export function startsWithPrefixOf(buf: Buffer, expected: Buffer): boolean {
  const n = Math.min(buf.length, expected.length);
  for (let i = 0; i < n; i++) if (buf[i] !== expected[i]) return false;
  return true;
}
