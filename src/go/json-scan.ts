/**
 * How Go's `json.Decoder.Decode` (what gin's JSON binding calls) reads a request body, for the
 * errors the API must answer with: it scans the first JSON value byte by byte and stops there
 * (anything after it is never read), and reports the first problem in scanning order. Behaviour as
 * in Go's encoding/json scanner (scanner.go, stream.go); the code is our own.
 *
 * - only whitespace: `EOF`;
 * - the input ends inside the value: `unexpected EOF`;
 * - a bad byte: `invalid character 'x' <context>`, e.g. `looking for beginning of value`;
 * - more than 10,000 nested arrays/objects: `invalid character '[' exceeded max depth`.
 */

import { goQuoteChar } from './quote.js';

export type GoJsonScan =
  | { kind: 'value'; /** byte length of the first value */ end: number }
  | { kind: 'error'; message: string };

/** Go's `maxNestingDepth`. */
export const maxNestingDepth = 10_000;

const enum Phase {
  ObjectKey,
  ObjectValue,
  ArrayValue,
}

const enum State {
  BeginValue,
  BeginValueOrEmpty,
  BeginStringOrEmpty,
  BeginString,
  EndValue,
  InString,
  InStringEsc,
  InStringEscU,
  Neg,
  Int,
  Zero,
  Dot,
  Dot0,
  E,
  ESign,
  E0,
  Literal,
}

/** The bytes after a backslash that end a one-character escape: b f n r t \\ / ". */
const simpleEscapes = new Set([0x62, 0x66, 0x6e, 0x72, 0x74, 0x5c, 0x2f, 0x22]);

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isHex = (c: number) => isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);

/** The literals `true`, `false`, `null`: what follows their first letter. */
const literalTails: Record<number, { name: string; tail: string }> = {
  0x74: { name: 'true', tail: 'rue' },
  0x66: { name: 'false', tail: 'alse' },
  0x6e: { name: 'null', tail: 'ull' },
};

/** One step's outcome: go on, the value ended before this byte, or with it (a closing bracket), or an error. */
type Step = 'continue' | 'end-before' | 'end-with' | GoJsonScan;

/** Go's scanner state machine (scanner.go), one byte at a time. */
class Scanner {
  private readonly stack: Phase[] = [];
  private state = State.BeginValue;
  private literal = { name: '', tail: '' };
  private literalAt = 0;
  private escU = 0;
  /** Whether a non-space byte was seen (only whitespace is `EOF`, not `unexpected EOF`). */
  started = false;

  private error(c: number, context: string): GoJsonScan {
    return { kind: 'error', message: `invalid character ${goQuoteChar(c)} ${context}` };
  }

  private goOn(next: State): Step {
    this.state = next;
    return 'continue';
  }

  private push(c: number, phase: Phase, next: State): Step {
    this.stack.push(phase);
    this.state = next;
    return this.stack.length > maxNestingDepth ? this.error(c, 'exceeded max depth') : 'continue';
  }

  private pop(): Step {
    this.stack.pop();
    this.state = State.EndValue;
    return this.stack.length === 0 ? 'end-with' : 'continue';
  }

  private endValue(c: number): Step {
    const stack = this.stack;
    const n = stack.length;
    if (n === 0) return 'end-before';
    if (isSpace(c)) return this.goOn(State.EndValue);
    switch (stack[n - 1]!) {
      case Phase.ObjectKey:
        if (c !== 0x3a) return this.error(c, 'after object key');
        stack[n - 1] = Phase.ObjectValue;
        return this.goOn(State.BeginValue);
      case Phase.ObjectValue:
        if (c === 0x2c) {
          stack[n - 1] = Phase.ObjectKey;
          return this.goOn(State.BeginString);
        }
        if (c === 0x7d) return this.pop();
        return this.error(c, 'after object key:value pair');
      case Phase.ArrayValue:
        if (c === 0x2c) return this.goOn(State.BeginValue);
        if (c === 0x5d) return this.pop();
        return this.error(c, 'after array element');
    }
  }

  private beginValue(c: number): Step {
    if (isSpace(c)) return 'continue';
    this.started = true;
    if (c === 0x7b) return this.push(c, Phase.ObjectKey, State.BeginStringOrEmpty);
    if (c === 0x5b) return this.push(c, Phase.ArrayValue, State.BeginValueOrEmpty);
    if (c === 0x22) return this.goOn(State.InString);
    if (c === 0x2d) return this.goOn(State.Neg);
    if (c === 0x30) return this.goOn(State.Zero);
    if (c >= 0x31 && c <= 0x39) return this.goOn(State.Int);
    const literal = literalTails[c];
    if (!literal) return this.error(c, 'looking for beginning of value');
    this.literal = literal;
    this.literalAt = 0;
    return this.goOn(State.Literal);
  }

  private beginString(c: number): Step {
    if (isSpace(c)) return this.goOn(State.BeginString);
    if (c === 0x22) return this.goOn(State.InString);
    return this.error(c, 'looking for beginning of object key string');
  }

  /** Inside a string literal, its escapes included. */
  private inString(c: number): Step {
    switch (this.state) {
      case State.InString:
        if (c === 0x22) return this.goOn(State.EndValue);
        if (c === 0x5c) return this.goOn(State.InStringEsc);
        return c < 0x20 ? this.error(c, 'in string literal') : 'continue';
      case State.InStringEsc:
        if (simpleEscapes.has(c)) return this.goOn(State.InString);
        if (c !== 0x75) return this.error(c, 'in string escape code');
        this.escU = 0;
        return this.goOn(State.InStringEscU);
      default:
        if (!isHex(c)) return this.error(c, 'in \\u hexadecimal character escape');
        if (++this.escU === 4) this.state = State.InString;
        return 'continue';
    }
  }

  /** After the integer part (or a lone `0`): a fraction, an exponent, or the end of the number. */
  private afterInt(c: number): Step {
    if (c === 0x2e) return this.goOn(State.Dot);
    if (c === 0x65 || c === 0x45) return this.goOn(State.E);
    return this.endValue(c);
  }

  private exponentDigit(c: number): Step {
    return isDigit(c) ? this.goOn(State.E0) : this.error(c, 'in exponent of numeric literal');
  }

  /** Inside a number literal. */
  private inNumber(c: number): Step {
    switch (this.state) {
      case State.Neg:
        if (c === 0x30) return this.goOn(State.Zero);
        if (c >= 0x31 && c <= 0x39) return this.goOn(State.Int);
        return this.error(c, 'in numeric literal');
      case State.Int:
        return isDigit(c) ? 'continue' : this.afterInt(c);
      case State.Zero:
        return this.afterInt(c);
      case State.Dot:
        return isDigit(c) ? this.goOn(State.Dot0) : this.error(c, 'after decimal point in numeric literal');
      case State.Dot0:
        if (isDigit(c)) return 'continue';
        return c === 0x65 || c === 0x45 ? this.goOn(State.E) : this.endValue(c);
      case State.E:
        return c === 0x2b || c === 0x2d ? this.goOn(State.ESign) : this.exponentDigit(c);
      case State.ESign:
        return this.exponentDigit(c);
      default:
        return isDigit(c) ? 'continue' : this.endValue(c);
    }
  }

  step(c: number): Step {
    switch (this.state) {
      case State.BeginValue:
        return this.beginValue(c);
      case State.BeginValueOrEmpty:
        if (isSpace(c)) return 'continue';
        return c === 0x5d ? this.endValue(c) : this.beginValue(c);
      case State.BeginStringOrEmpty:
        if (isSpace(c)) return 'continue';
        if (c === 0x7d) {
          this.stack[this.stack.length - 1] = Phase.ObjectValue;
          return this.endValue(c);
        }
        return this.beginString(c);
      case State.BeginString:
        return this.beginString(c);
      case State.EndValue:
        return this.endValue(c);
      case State.InString:
      case State.InStringEsc:
      case State.InStringEscU:
        return this.inString(c);
      case State.Literal: {
        const { name, tail } = this.literal;
        if (c !== tail.charCodeAt(this.literalAt)) return this.error(c, `in literal ${name} (expecting '${tail[this.literalAt]}')`);
        if (++this.literalAt === tail.length) this.state = State.EndValue;
        return 'continue';
      }
      default:
        return this.inNumber(c);
    }
  }
}

/** Scans the first JSON value of `bytes` as Go's stream decoder does. */
export function scanFirstJsonValue(bytes: Uint8Array): GoJsonScan {
  const scanner = new Scanner();
  for (let i = 0; i < bytes.length; i++) {
    const r = scanner.step(bytes[i]!);
    if (r === 'continue') continue;
    if (r === 'end-before') return { kind: 'value', end: i };
    if (r === 'end-with') return { kind: 'value', end: i + 1 };
    return r;
  }
  // End of input: a number (or literal) at the top level ends here; anything else is cut short.
  if (!scanner.started) return { kind: 'error', message: 'EOF' };
  const last = scanner.step(0x20);
  if (last === 'end-before') return { kind: 'value', end: bytes.length };
  return { kind: 'error', message: 'unexpected EOF' };
}
