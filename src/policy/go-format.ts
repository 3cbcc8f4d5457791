/**
 * The few Go standard-library behaviours whose exact output ends up in compile error messages:
 * `%q` quoting, net.SplitHostPort / JoinHostPort and strconv.Atoi. Kept apart so compile.ts reads as policy.
 */

const GO_ESCAPES: Record<string, string> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
  '"': '\\"',
  '\\': '\\\\',
};

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}\x20]$/u;

/** Go's `%q` (strconv.Quote) for the strings we quote: printable runes as is, others escaped. */
export function goQuote(value: string): string {
  let out = '"';
  for (const ch of value) {
    const escaped = GO_ESCAPES[ch];
    if (escaped !== undefined) {
      out += escaped;
      continue;
    }
    if (PRINTABLE.test(ch)) {
      out += ch;
      continue;
    }
    const code = ch.codePointAt(0) ?? 0;
    if (code < 0x80) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (code <= 0xffff) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += `\\U${code.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}

export type SplitHostPortResult = { ok: true; host: string; port: string } | { ok: false; message: string };

/** Go's net.SplitHostPort, including its error texts (`address X: missing port in address`, ...). */
export function splitHostPort(hostport: string): SplitHostPortResult {
  const fail = (why: string): SplitHostPortResult => ({
    ok: false,
    message: hostport === '' ? why : `address ${hostport}: ${why}`,
  });
  const missingPort = 'missing port in address';
  const tooManyColons = 'too many colons in address';
  const last = hostport.lastIndexOf(':');
  if (last < 0) return fail(missingPort);
  let host: string;
  let j = 0;
  let k = 0;
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']');
    if (end < 0) return fail("missing ']' in address");
    if (end + 1 === hostport.length) return fail(missingPort);
    if (end + 1 !== last) return fail(hostport[end + 1] === ':' ? tooManyColons : missingPort);
    host = hostport.slice(1, end);
    j = 1;
    k = end + 1;
  } else {
    host = hostport.slice(0, last);
    if (host.includes(':')) return fail(tooManyColons);
  }
  if (hostport.slice(j).includes('[')) return fail("unexpected '[' in address");
  if (hostport.slice(k).includes(']')) return fail("unexpected ']' in address");
  return { ok: true, host, port: hostport.slice(last + 1) };
}

/** Go's net.JoinHostPort: brackets around a host containing a colon (IPv6). */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

/** Go's strconv.Atoi on a 64-bit platform: optional sign, decimal digits, within int64. */
export function goAtoi(value: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(value)) return undefined;
  const n = BigInt(value);
  return n > INT64_MAX || n < INT64_MIN ? undefined : n;
}

/**
 * The time package's own `quote` (used in time.ParseDuration errors): ASCII printable characters as
 * they are (with `"` and `\` escaped), every byte of anything else as `\xNN`.
 */
export function goTimeQuote(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (code >= 0x80 || code < 0x20) {
      for (const byte of Buffer.from(ch, 'utf8')) out += `\\x${byte.toString(16).padStart(2, '0')}`;
    } else {
      if (ch === '"' || ch === '\\') out += '\\';
      out += ch;
    }
  }
  return `${out}"`;
}

/** unicode.IsSpace: what Go's strings.TrimSpace removes (differs from String.prototype.trim on U+0085 and U+FEFF). */
const GO_SPACE = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const GO_TRIM = new RegExp(`^[${GO_SPACE}]+|[${GO_SPACE}]+$`, 'gu');

/** Go's strings.TrimSpace. */
export function goTrimSpace(s: string): string {
  return s.replace(GO_TRIM, '');
}

/** Go's per-rune case mapping: a rune maps to one rune or stays (no `ß` → `SS`, `İ` → `i`). */
function goMapRunes(s: string, map: (ch: string) => string, special: Record<string, string>): string {
  let out = '';
  for (const ch of s) {
    const sp = special[ch];
    if (sp !== undefined) {
      out += sp;
      continue;
    }
    const mapped = map(ch);
    out += [...mapped].length === 1 ? mapped : ch;
  }
  return out;
}

/** Go's strings.ToLower. */
export function goToLower(s: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(s) ? s.toLowerCase() : goMapRunes(s, (ch) => ch.toLowerCase(), { '\u0130': 'i' });
}

/** Go's strings.ToUpper. */
export function goToUpper(s: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(s) ? s.toUpperCase() : goMapRunes(s, (ch) => ch.toUpperCase(), {});
}
