/**
 * Go's string quoting, whose exact output ends up in error messages upstream prints: strconv.Quote
 * (what `%q` formats), encoding/json's quoteChar and the time package's own quote. Pure.
 */

const ESCAPES: Record<number, string> = {
  0x07: '\\a',
  0x08: '\\b',
  0x0c: '\\f',
  0x0a: '\\n',
  0x0d: '\\r',
  0x09: '\\t',
  0x0b: '\\v',
  0x22: '\\"',
  0x5c: '\\\\',
};

/** unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}\x20]$/u;

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');

/** The smallest code point of a sequence, by length (anything below is an overlong form). */
const MIN_BY_LENGTH = [0, 0, 0x80, 0x800, 0x10000];

/** utf8.DecodeRune: the rune at `at` and its width, or undefined for an invalid byte (width 1). */
function decodeRune(bytes: Uint8Array, at: number): { rune: number; width: number } | undefined {
  const b0 = bytes[at]!;
  if (b0 < 0x80) return { rune: b0, width: 1 };
  const width = b0 >= 0xc2 && b0 <= 0xdf ? 2 : b0 >= 0xe0 && b0 <= 0xef ? 3 : b0 >= 0xf0 && b0 <= 0xf4 ? 4 : 0;
  if (width === 0 || at + width > bytes.length) return undefined;
  let rune = b0 & (0xff >> (width + 1));
  for (let i = 1; i < width; i++) {
    const b = bytes[at + i]!;
    if ((b & 0xc0) !== 0x80) return undefined;
    rune = (rune << 6) | (b & 0x3f);
  }
  if (rune < MIN_BY_LENGTH[width]! || rune > 0x10ffff || (rune >= 0xd800 && rune <= 0xdfff)) return undefined;
  return { rune, width };
}

/** strconv's appendEscapedRune for a valid rune, with `"` as the quote. */
function escapeRune(rune: number): string {
  const named = ESCAPES[rune];
  if (named !== undefined) return named;
  const ch = String.fromCodePoint(rune);
  if (PRINTABLE.test(ch)) return ch;
  if (rune < 0x20 || rune === 0x7f) return `\\x${hex(rune, 2)}`;
  return rune < 0x10000 ? `\\u${hex(rune, 4)}` : `\\U${hex(rune, 8)}`;
}

/**
 * Go's strconv.Quote (`%q`): `\a \b \f \n \r \t \v \\ \"` named, other ASCII controls as `\xNN`,
 * printable runes (non-ASCII included) as they are, other runes as `\uNNNN` / `\UNNNNNNNN`, and each
 * byte of invalid UTF-8 as `\xNN`. A JS string is quoted as its UTF-8 bytes (a lone surrogate, which
 * no Go string can hold, becomes U+FFFD as Go's string conversion would make it).
 */
export function goQuote(value: string | Uint8Array): string {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  let out = '"';
  for (let at = 0; at < bytes.length; ) {
    const decoded = decodeRune(bytes, at);
    if (decoded === undefined) {
      out += `\\x${hex(bytes[at]!, 2)}`;
      at += 1;
    } else {
      out += escapeRune(decoded.rune);
      at += decoded.width;
    }
  }
  return `${out}"`;
}

/** encoding/json's quoteChar: the byte as the rune U+00XX, quoted like strconv.Quote but in single quotes. */
export function goQuoteChar(c: number): string {
  if (c === 0x27) return `'\\''`;
  if (c === 0x22) return `'"'`;
  return `'${goQuote(String.fromCharCode(c)).slice(1, -1)}'`;
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
      for (const byte of Buffer.from(ch, 'utf8')) out += `\\x${hex(byte, 2)}`;
    } else {
      if (ch === '"' || ch === '\\') out += '\\';
      out += ch;
    }
  }
  return `${out}"`;
}
