import { describe, expect, it } from 'vitest';
import { parseJsonText } from '../../../src/api/decode.js';
import { scanFirstJsonValue } from '../../../src/go/json-scan.js';
import { goQuoteChar as quoteChar } from '../../../src/go/quote.js';

/**
 * Request bodies are read as Go's json.Decoder reads them (gin's binding): the expected messages are
 * what Go's encoding/json scanner produces for the same bytes.
 */
const message = (text: string) => {
  try {
    parseJsonText(text);
    return 'ok';
  } catch (err) {
    return (err as Error).message;
  }
};
const nested = (depth: number) => `{"template":"default","x":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;

describe('Go-compatible JSON body scanning', () => {
  it('accepts 10,000 levels (the object counts as one) and refuses 10,001 at the bracket that crosses it', () => {
    expect(message(nested(10_000))).toBe('ok');
    expect(message(nested(10_001))).toBe("invalid request: invalid character '[' exceeded max depth");
    expect(message(`{"a":${'{"b":'.repeat(10_000)}1`)).toBe("invalid request: invalid character '{' exceeded max depth");
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(message(`{"template":"${'['.repeat(20_000)}"}`)).toBe('ok');
    expect(message(`{"template":"\\"${'{'.repeat(20_000)}"}`)).toBe('ok');
  });

  it('reports the first problem in scanning order', () => {
    expect(message(`{"template":x,"y":${'['.repeat(10_001)}`)).toBe("invalid request: invalid character 'x' looking for beginning of value");
    expect(message(`{"y":${'['.repeat(10_001)}x`)).toBe("invalid request: invalid character '[' exceeded max depth");
  });

  it.each([
    ['', 'EOF'],
    ['  \n\t', 'EOF'],
    ['{', 'unexpected EOF'],
    ['{"a":', 'unexpected EOF'],
    ['{"a":"b', 'unexpected EOF'],
    ['-', 'unexpected EOF'],
    ['{"a" 1}', "invalid character '1' after object key"],
    ['{"a":1 "b":2}', `invalid character '"' after object key:value pair`],
    ['[1 2]', "invalid character '2' after array element"],
    ['{a:1}', "invalid character 'a' looking for beginning of object key string"],
    ['{"a":tru}', "invalid character '}' in literal true (expecting 'e')"],
    ['{"a":nul}', "invalid character '}' in literal null (expecting 'l')"],
    ['{"a":fx}', "invalid character 'x' in literal false (expecting 'a')"],
    ['{"a":01}', "invalid character '1' after object key:value pair"],
    ['{"a":1.}', "invalid character '}' after decimal point in numeric literal"],
    ['{"a":1e}', "invalid character '}' in exponent of numeric literal"],
    ['{"a":-x}', "invalid character 'x' in numeric literal"],
    ['{"a":"\\q"}', "invalid character 'q' in string escape code"],
    ['{"a":"\\u12g4"}', "invalid character 'g' in \\u hexadecimal character escape"],
    ['{"a":"x\ny"}', "invalid character '\\n' in string literal"],
    ["{'a':1}", "invalid character '\\'' looking for beginning of object key string"],
    ['{"a":1}}', 'ok'],
    ['{"template":"default"} trailing garbage', 'ok'],
    ['{"a":1}{', 'ok'],
  ])('%j → %s', (text, expected) => {
    expect(message(text)).toBe(expected === 'ok' ? 'ok' : `invalid request: ${expected}`);
  });

  it('ends a top-level number or literal at the end of the input, and stops after the first value', () => {
    expect(scanFirstJsonValue(Buffer.from('123'))).toEqual({ kind: 'value', end: 3 });
    expect(scanFirstJsonValue(Buffer.from('true  '))).toEqual({ kind: 'value', end: 4 });
    expect(scanFirstJsonValue(Buffer.from('[1] [2]'))).toEqual({ kind: 'value', end: 3 });
  });

  it('quotes bytes as Go does', () => {
    expect(quoteChar(0x00)).toBe("'\\x00'");
    expect(quoteChar(0x7f)).toBe("'\\x7f'");
    expect(quoteChar(0x80)).toBe("'\\u0080'");
    expect(quoteChar(0xe9)).toBe("'é'");
    expect(quoteChar(0x5c)).toBe("'\\\\'");
    expect(quoteChar(0x0b)).toBe("'\\v'");
  });
});
