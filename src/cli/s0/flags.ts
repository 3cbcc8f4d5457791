import { goQuote } from '../../go/quote.js';
import { goParseBool, goParseInt } from '../../go/strconv.js';

/**
 * A small cobra/pflag-compatible flag parser (pure): `--name value`, `--name=value`, `-s value`,
 * `-svalue`, repeatable string arrays, `--` ends flags, flags and positionals interleave. Error texts
 * are pflag's, so scripts that grep the official CLI's errors keep working.
 */

export type FlagKind = 'string' | 'stringArray' | 'bool' | 'int';

export interface FlagSpec {
  name: string;
  short?: string;
  kind: FlagKind;
  usage: string;
  /** Integer width for `int` flags (Go's Int32Var vs IntVar). */
  bits?: 32 | 64;
  /** Shown in help as `(default ...)` and used when the flag is absent. */
  defaultValue?: string | number | boolean;
}

export type FlagValue = string | string[] | boolean | number;

export interface ParsedFlags {
  values: Map<string, FlagValue>;
  /** Flags the user actually set (cobra's `Changed`). */
  changed: Set<string>;
  positionals: string[];
  /** Everything after a bare `--`. */
  afterDash: string[];
}

/** A flag or argument error with pflag's message; the command layer prints it cobra-style. */
export class FlagError extends Error {
  override readonly name = 'FlagError';
}

/** Go's `strconv.ParseInt(s, 10, bits)` as the official CLI reports it: a FlagError with Go's text. */
export function parseIntArg(raw: string, bits: 32 | 64 = 64): number {
  const parsed = goParseInt(raw, bits);
  if (!parsed.ok) throw new FlagError(parsed.message);
  return parsed.value;
}

function flagLabel(spec: FlagSpec): string {
  return spec.short ? `-${spec.short}, --${spec.name}` : `--${spec.name}`;
}

function defaultValue(spec: FlagSpec): FlagValue {
  if (spec.kind === 'stringArray') return [];
  if (spec.defaultValue !== undefined) return spec.defaultValue;
  return spec.kind === 'bool' ? false : spec.kind === 'int' ? 0 : '';
}

/** Records one occurrence of a flag, converting its text as pflag does. */
function setFlag(parsed: ParsedFlags, spec: FlagSpec, raw: string): void {
  parsed.changed.add(spec.name);
  const invalid = (why: string) => new FlagError(`invalid argument ${goQuote(raw)} for ${goQuote(flagLabel(spec))} flag: ${why}`);
  switch (spec.kind) {
    case 'stringArray':
      (parsed.values.get(spec.name) as string[]).push(raw);
      return;
    case 'bool': {
      const b = goParseBool(raw);
      if (b === undefined) throw invalid(`strconv.ParseBool: parsing ${goQuote(raw)}: invalid syntax`);
      parsed.values.set(spec.name, b);
      return;
    }
    case 'int': {
      const n = goParseInt(raw, spec.bits ?? 64);
      if (!n.ok) throw invalid(n.message);
      parsed.values.set(spec.name, n.value);
      return;
    }
    case 'string':
      parsed.values.set(spec.name, raw);
  }
}

/** The flag specs by long name and by shorthand. */
interface FlagIndex {
  byName: Map<string, FlagSpec>;
  byShort: Map<string, FlagSpec>;
}

/** `--name`, `--name=value` or `--name value`; returns the index of the last argument used. */
function readLongFlag(parsed: ParsedFlags, index: FlagIndex, args: readonly string[], i: number): number {
  const body = args[i]!.slice(2);
  const eq = body.indexOf('=');
  const name = eq >= 0 ? body.slice(0, eq) : body;
  const spec = index.byName.get(name);
  if (!spec) throw new FlagError(`unknown flag: --${name}`);
  if (eq >= 0) setFlag(parsed, spec, body.slice(eq + 1));
  else if (spec.kind === 'bool') setFlag(parsed, spec, 'true');
  else if (i + 1 < args.length) setFlag(parsed, spec, args[++i]!);
  else throw new FlagError(`flag needs an argument: --${name}`);
  return i;
}

/**
 * A run of shorthands: booleans may be grouped (`-hv`); a value-taking one eats the rest (or the next
 * argument). Returns the index of the last argument used.
 */
function readShortFlags(parsed: ParsedFlags, index: FlagIndex, args: readonly string[], i: number): number {
  let rest = args[i]!.slice(1);
  while (rest.length > 0) {
    const c = rest[0]!;
    const spec = index.byShort.get(c);
    if (!spec) throw new FlagError(`unknown shorthand flag: '${c}' in -${rest}`);
    rest = rest.slice(1);
    if (rest.startsWith('=')) {
      setFlag(parsed, spec, rest.slice(1));
      rest = '';
    } else if (spec.kind === 'bool') {
      setFlag(parsed, spec, 'true');
    } else if (rest.length > 0) {
      setFlag(parsed, spec, rest);
      rest = '';
    } else if (i + 1 < args.length) {
      setFlag(parsed, spec, args[++i]!);
    } else {
      throw new FlagError(`flag needs an argument: '${c}' in -${c}`);
    }
  }
  return i;
}

export function parseFlags(args: readonly string[], specs: readonly FlagSpec[]): ParsedFlags {
  const index: FlagIndex = {
    byName: new Map(specs.map((s) => [s.name, s])),
    byShort: new Map(specs.filter((s) => s.short).map((s) => [s.short!, s])),
  };
  const parsed: ParsedFlags = { values: new Map(specs.map((s) => [s.name, defaultValue(s)])), changed: new Set(), positionals: [], afterDash: [] };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      parsed.afterDash = args.slice(i + 1);
      break;
    }
    if (arg.startsWith('--')) i = readLongFlag(parsed, index, args, i);
    else if (arg.startsWith('-') && arg.length > 1) i = readShortFlags(parsed, index, args, i);
    else parsed.positionals.push(arg);
  }
  return parsed;
}

/** Typed accessors over a parse result. */
export function flagReader(parsed: ParsedFlags) {
  return {
    str: (name: string) => (parsed.values.get(name) as string | undefined) ?? '',
    list: (name: string) => (parsed.values.get(name) as string[] | undefined) ?? [],
    bool: (name: string) => parsed.values.get(name) === true,
    int: (name: string) => (parsed.values.get(name) as number | undefined) ?? 0,
    changed: (name: string) => parsed.changed.has(name),
  };
}

/** pflag's help block: aligned `-s, --name type   usage (default x)` lines. */
export function renderFlagHelp(specs: readonly FlagSpec[]): string {
  const left = specs.map((s) => {
    const names = s.short ? `-${s.short}, --${s.name}` : `    --${s.name}`;
    const type = s.kind === 'bool' ? '' : s.kind === 'int' ? (s.bits === 32 ? ' int32' : ' int') : s.kind === 'stringArray' ? ' stringArray' : ' string';
    return `  ${names}${type}`;
  });
  const width = Math.max(0, ...left.map((l) => l.length));
  return specs
    .map((s, i) => {
      const dflt =
        s.defaultValue !== undefined && s.defaultValue !== '' && s.defaultValue !== false && s.defaultValue !== 0
          ? ` (default ${typeof s.defaultValue === 'string' ? `"${s.defaultValue}"` : String(s.defaultValue)})`
          : '';
      return `${left[i]!.padEnd(width)}   ${s.usage}${dflt}\n`;
    })
    .join('');
}
