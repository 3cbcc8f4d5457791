/** Go's strings.TrimSpace / ToLower / ToUpper, which differ from JavaScript's on a few runes. Pure. */

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
    const mapped = special[ch] ?? map(ch);
    out += [...mapped].length === 1 ? mapped : ch;
  }
  return out;
}

// eslint-disable-next-line no-control-regex
const ASCII_ONLY = /^[\x00-\x7f]*$/;

/** Go's strings.ToLower. */
export function goToLower(s: string): string {
  return ASCII_ONLY.test(s) ? s.toLowerCase() : goMapRunes(s, (ch) => ch.toLowerCase(), { '\u0130': 'i' });
}

/** Go's strings.ToUpper. */
export function goToUpper(s: string): string {
  return ASCII_ONLY.test(s) ? s.toUpperCase() : goMapRunes(s, (ch) => ch.toUpperCase(), {});
}
