/** Go's strconv integer and boolean parsing, with the error texts upstream prints verbatim. Pure. */
import { goQuote } from './quote.js';

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);
const DECIMAL = /^[+-]?[0-9]+$/;

/** Go's strconv.Atoi on a 64-bit platform: optional sign, decimal digits, within int64. */
export function goAtoi(value: string): bigint | undefined {
  if (!DECIMAL.test(value)) return undefined;
  const n = BigInt(value);
  return n > INT64_MAX || n < INT64_MIN ? undefined : n;
}

export type GoParseIntResult = { ok: true; value: number } | { ok: false; message: string };

/** Go's `strconv.ParseInt(s, 10, bits)`: the value, or its error text (`strconv.ParseInt: parsing "x": invalid syntax`). */
export function goParseInt(raw: string, bits: 32 | 64 = 64): GoParseIntResult {
  const fail = (why: string): GoParseIntResult => ({ ok: false, message: `strconv.ParseInt: parsing ${goQuote(raw)}: ${why}` });
  if (!DECIMAL.test(raw)) return fail('invalid syntax');
  const n = BigInt(raw);
  const [min, max] = bits === 32 ? [-(2n ** 31n), 2n ** 31n - 1n] : [INT64_MIN, INT64_MAX];
  if (n < min || n > max) return fail('value out of range');
  return { ok: true, value: Number(n) };
}

/** Go's strconv.ParseBool: the accepted spellings, undefined for anything else. */
export function goParseBool(raw: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(raw)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(raw)) return false;
  return undefined;
}
