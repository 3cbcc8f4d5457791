import { describe, expect, it } from 'vitest';
import { goQuote, goTimeQuote, goToLower, goToUpper, goTrimSpace } from '../../../src/policy/go-format.js';

// Expectations are Go's (strconv.Quote, time's quote, strings.TrimSpace/ToLower/ToUpper).
describe('Go string helpers', () => {
  it('quotes as strconv.Quote', () => {
    expect(goQuote('a"b\\c\n\t\u00a0é\u0007\u200b')).toBe('"a\\"b\\\\c\\n\\t\\u00a0é\\a\\u200b"');
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
