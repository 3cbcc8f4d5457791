import { describe, expect, it } from 'vitest';
import { goQuote, goTimeQuote } from '../../../src/go/quote.js';
import { goToLower, goToUpper, goTrimSpace } from '../../../src/go/strings.js';

// Expectations are Go's (strconv.Quote, time's quote, strings.TrimSpace/ToLower/ToUpper).
describe('Go string helpers', () => {
  it('quotes as strconv.Quote', () => {
    expect(goQuote('a"b\\c\n\t\u00a0é\u0007\u200b')).toBe('"a\\"b\\\\c\\n\\t\\u00a0é\\a\\u200b"');
  });

  it('quotes invalid UTF-8 bytes as \\xNN and non-printable runes as \\u / \\U', () => {
    expect(goQuote(Uint8Array.of(0x61, 0xff, 0xc3, 0xa9, 0xed, 0xa0, 0x80, 0xc3))).toBe('"a\\xffé\\xed\\xa0\\x80\\xc3"');
    expect(goQuote('\x00\x1b\x7f\v\f\b\r')).toBe('"\\x00\\x1b\\x7f\\v\\f\\b\\r"');
    expect(goQuote('\u0085\u00ad\u{e0001}日本\u{1f600}')).toBe('"\\u0085\\u00ad\\U000e0001日本\u{1f600}"');
  });

  it("quotes as the time package's quote (non-ASCII bytes as \\x)", () => {
    expect(goTimeQuote('5é"')).toBe('"5\\xc3\\xa9\\""');
  });

  it('trims what unicode.IsSpace calls space: U+0085 yes, U+FEFF no', () => {
    expect(goTrimSpace('\u0085\u00a0 x \u3000')).toBe('x');
    expect(goTrimSpace('\ufeffx')).toBe('\ufeffx');
  });

  it('maps case rune by rune', () => {
    expect(goToLower('REDİS')).toBe('redis');
    expect(goToUpper('straße')).toBe('STRAßE');
    expect(goToUpper('get')).toBe('GET');
  });
});
