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

/** Scans the first JSON value of `bytes` as Go's stream decoder does. */
export function scanFirstJsonValue(bytes: Uint8Array): GoJsonScan {
  const stack: Phase[] = [];
  let state = State.BeginValue;
  let literal = { name: '', tail: '' };
  let literalAt = 0;
  let escU = 0;
  let started = false;
  const error = (c: number, context: string): GoJsonScan => ({ kind: 'error', message: `invalid character ${goQuoteChar(c)} ${context}` });

  // One step of the state machine. Returns 'continue', 'end' (the value ended before this byte, or
  // with it for a closing bracket) or an error.
  const push = (c: number, phase: Phase, next: State): GoJsonScan | undefined => {
    stack.push(phase);
    state = next;
    return stack.length > maxNestingDepth ? error(c, 'exceeded max depth') : undefined;
  };
  type Step = 'continue' | 'end-before' | 'end-with' | GoJsonScan;
  const endValue = (c: number): Step => {
    const n = stack.length;
    if (n === 0) return 'end-before';
    if (isSpace(c)) {
      state = State.EndValue;
      return 'continue';
    }
    switch (stack[n - 1]!) {
      case Phase.ObjectKey:
        if (c === 0x3a) {
          stack[n - 1] = Phase.ObjectValue;
          state = State.BeginValue;
          return 'continue';
        }
        return error(c, 'after object key');
      case Phase.ObjectValue:
        if (c === 0x2c) {
          stack[n - 1] = Phase.ObjectKey;
          state = State.BeginString;
          return 'continue';
        }
        if (c === 0x7d) return pop();
        return error(c, 'after object key:value pair');
      case Phase.ArrayValue:
        if (c === 0x2c) {
          state = State.BeginValue;
          return 'continue';
        }
        if (c === 0x5d) return pop();
        return error(c, 'after array element');
    }
  };
  const pop = (): Step => {
    stack.pop();
    state = State.EndValue;
    return stack.length === 0 ? 'end-with' : 'continue';
  };
  const beginValue = (c: number): Step => {
    if (isSpace(c)) return 'continue';
    started = true;
    if (c === 0x7b) return push(c, Phase.ObjectKey, State.BeginStringOrEmpty) ?? 'continue';
    if (c === 0x5b) return push(c, Phase.ArrayValue, State.BeginValueOrEmpty) ?? 'continue';
    if (c === 0x22) state = State.InString;
    else if (c === 0x2d) state = State.Neg;
    else if (c === 0x30) state = State.Zero;
    else if (c >= 0x31 && c <= 0x39) state = State.Int;
    else if (literalTails[c]) {
      literal = literalTails[c]!;
      literalAt = 0;
      state = State.Literal;
    } else return error(c, 'looking for beginning of value');
    return 'continue';
  };
  const zero = (c: number): Step => {
    if (c === 0x2e) state = State.Dot;
    else if (c === 0x65 || c === 0x45) state = State.E;
    else return endValue(c);
    return 'continue';
  };

  const step = (c: number): Step => {
    switch (state) {
      case State.BeginValue:
        return beginValue(c);
      case State.BeginValueOrEmpty:
        if (isSpace(c)) return 'continue';
        return c === 0x5d ? endValue(c) : beginValue(c);
      case State.BeginStringOrEmpty:
        if (isSpace(c)) return 'continue';
        if (c === 0x7d) {
          stack[stack.length - 1] = Phase.ObjectValue;
          return endValue(c);
        }
        return step2BeginString(c);
      case State.BeginString:
        return step2BeginString(c);
      case State.EndValue:
        return endValue(c);
      case State.InString:
        if (c === 0x22) state = State.EndValue;
        else if (c === 0x5c) state = State.InStringEsc;
        else if (c < 0x20) return error(c, 'in string literal');
        return 'continue';
      case State.InStringEsc:
        if (simpleEscapes.has(c)) state = State.InString;
        else if (c === 0x75) {
          state = State.InStringEscU;
          escU = 0;
        } else return error(c, 'in string escape code');
        return 'continue';
      case State.InStringEscU:
        if (!isHex(c)) return error(c, 'in \\u hexadecimal character escape');
        if (++escU === 4) state = State.InString;
        return 'continue';
      case State.Neg:
        if (c === 0x30) state = State.Zero;
        else if (c >= 0x31 && c <= 0x39) state = State.Int;
        else return error(c, 'in numeric literal');
        return 'continue';
      case State.Int:
        return isDigit(c) ? 'continue' : zero(c);
      case State.Zero:
        return zero(c);
      case State.Dot:
        if (!isDigit(c)) return error(c, 'after decimal point in numeric literal');
        state = State.Dot0;
        return 'continue';
      case State.Dot0:
        if (isDigit(c)) return 'continue';
        if (c === 0x65 || c === 0x45) {
          state = State.E;
          return 'continue';
        }
        return endValue(c);
      case State.E:
        if (c === 0x2b || c === 0x2d) {
          state = State.ESign;
          return 'continue';
        }
        return eSign(c);
      case State.ESign:
        return eSign(c);
      case State.E0:
        return isDigit(c) ? 'continue' : endValue(c);
      case State.Literal: {
        const want = literal.tail.charCodeAt(literalAt);
        if (c !== want) return error(c, `in literal ${literal.name} (expecting '${literal.tail[literalAt]}')`);
        if (++literalAt === literal.tail.length) state = State.EndValue;
        return 'continue';
      }
    }
  };
  const step2BeginString = (c: number): Step => {
    if (isSpace(c)) {
      state = State.BeginString;
      return 'continue';
    }
    if (c === 0x22) {
      state = State.InString;
      return 'continue';
    }
    return error(c, 'looking for beginning of object key string');
  };
  const eSign = (c: number): Step => {
    if (!isDigit(c)) return error(c, 'in exponent of numeric literal');
    state = State.E0;
    return 'continue';
  };

  for (let i = 0; i < bytes.length; i++) {
    const r = step(bytes[i]!);
    if (r === 'continue') continue;
    if (r === 'end-before') return { kind: 'value', end: i };
    if (r === 'end-with') return { kind: 'value', end: i + 1 };
    return r;
  }
  // End of input: a number (or literal) at the top level ends here; anything else is cut short.
  if (!started) return { kind: 'error', message: 'EOF' };
  const last = step(0x20);
  if (last === 'end-before') return { kind: 'value', end: bytes.length };
  return { kind: 'error', message: 'unexpected EOF' };
}
