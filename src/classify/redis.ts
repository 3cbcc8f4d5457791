import { needMore, noMatch, type ProtocolMatch } from './protocol-match.js';

/** RESP type markers and line ending. */
export const Resp = { Array: 0x2a /* * */, BulkString: 0x24 /* $ */, Cr: 0x0d, Lf: 0x0a } as const;
const digit0 = 0x30;
const digit9 = 0x39;
/** An array length longer than this is not a command a client would send first. */
const maxCountDigits = 10;

/** redis: a RESP array `*<n>\r\n` whose first element is a bulk string or an array. No host. */
export function matchRedis(buf: Buffer): ProtocolMatch {
  if (buf.length === 0) return needMore;
  if (buf[0] !== Resp.Array) return noMatch;
  let p = 1;
  while (p < buf.length && p <= maxCountDigits) {
    const c = buf[p]!;
    if (c < digit0 || c > digit9) break;
    p++;
  }
  if (p === buf.length) return needMore;
  const digits = p - 1;
  if (digits === 0 || digits > maxCountDigits || buf[p] !== Resp.Cr) return noMatch;
  if (buf.length < p + 3) {
    return buf.length === p + 2 && buf[p + 1] !== Resp.Lf ? noMatch : needMore;
  }
  if (buf[p + 1] !== Resp.Lf) return noMatch;
  const next = buf[p + 2];
  if (next !== Resp.BulkString && next !== Resp.Array) return noMatch;
  return { kind: 'matched', appProtocol: 'redis' };
}
