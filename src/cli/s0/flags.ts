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

const int64Min = -(2n ** 63n);
const int64Max = 2n ** 63n - 1n;

/** Go's `strconv.ParseInt(s, 10, bits)` error texts, which the official CLI prints verbatim. */
export function goParseInt(raw: string, bits: 32 | 64 = 64): number {
  if (!/^[+-]?\d+$/.test(raw)) throw new FlagError(`strconv.ParseInt: parsing ${goQuote(raw)}: invalid syntax`);
  const n = BigInt(raw);
  const [min, max] = bits === 32 ? [-(2n ** 31n), 2n ** 31n - 1n] : [int64Min, int64Max];
  if (n < min || n > max) throw new FlagError(`strconv.ParseInt: parsing ${goQuote(raw)}: value out of range`);
  return Number(n);
}

/** Go's `%q` for the plain strings that appear in messages (escapes quotes, backslashes, controls). */
export function goQuote(s: string): string {
  return JSON.stringify(s).replace(/\\u007f/g, '\\x7f');
}

function flagLabel(spec: FlagSpec): string {
  return spec.short ? `-${spec.short}, --${spec.name}` : `--${spec.name}`;
}

export function parseFlags(args: readonly string[], specs: readonly FlagSpec[]): ParsedFlags {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const values = new Map<string, FlagValue>();
  const changed = new Set<string>();
  const positionals: string[] = [];
  let afterDash: string[] = [];

  for (const spec of specs) {
    if (spec.kind === 'stringArray') values.set(spec.name, []);
    else if (spec.defaultValue !== undefined) values.set(spec.name, spec.defaultValue);
    else values.set(spec.name, spec.kind === 'bool' ? false : spec.kind === 'int' ? 0 : '');
  }

  const set = (spec: FlagSpec, raw: string) => {
    changed.add(spec.name);
    switch (spec.kind) {
      case 'stringArray': {
        const list = values.get(spec.name) as string[];
        list.push(raw);
        return;
      }
      case 'bool': {
        const b = parseGoBool(raw);
        if (b === undefined) throw new FlagError(`invalid argument ${goQuote(raw)} for ${goQuote(flagLabel(spec))} flag: strconv.ParseBool: parsing ${goQuote(raw)}: invalid syntax`);
        values.set(spec.name, b);
        return;
      }
      case 'int':
        try {
          values.set(spec.name, goParseInt(raw, spec.bits ?? 64));
        } catch (err) {
          throw new FlagError(`invalid argument ${goQuote(raw)} for ${goQuote(flagLabel(spec))} flag: ${(err as Error).message}`);
        }
        return;
      case 'string':
        values.set(spec.name, raw);
    }
  };

  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      afterDash = args.slice(i + 1);
      break;
    }
    if (arg.startsWith('--')) {
      const body = arg.slice(2);
      const eq = body.indexOf('=');
      const name = eq >= 0 ? body.slice(0, eq) : body;
      const spec = byName.get(name);
      if (!spec) throw new FlagError(`unknown flag: --${name}`);
      if (eq >= 0) set(spec, body.slice(eq + 1));
      else if (spec.kind === 'bool') set(spec, 'true');
      else if (i + 1 < args.length) set(spec, args[++i]!);
      else throw new FlagError(`flag needs an argument: --${name}`);
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      // A run of shorthands: booleans may be grouped (`-hv`); a value-taking one eats the rest.
      let rest = arg.slice(1);
      while (rest.length > 0) {
        const c = rest[0]!;
        const spec = byShort.get(c);
        if (!spec) throw new FlagError(`unknown shorthand flag: '${c}' in -${rest}`);
        rest = rest.slice(1);
        if (rest.startsWith('=')) {
          set(spec, rest.slice(1));
          rest = '';
        } else if (spec.kind === 'bool') {
          set(spec, 'true');
        } else if (rest.length > 0) {
          set(spec, rest);
          rest = '';
        } else if (i + 1 < args.length) {
          set(spec, args[++i]!);
        } else {
          throw new FlagError(`flag needs an argument: '${c}' in -${c}`);
        }
      }
      continue;
    }
    positionals.push(arg);
  }
  return { values, changed, positionals, afterDash };
}

function parseGoBool(raw: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(raw)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(raw)) return false;
  return undefined;
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
