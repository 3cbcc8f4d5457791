import { describe, expect, it } from 'vitest';
import { FlagError, flagReader, parseIntArg as goParseInt, parseFlags, type FlagSpec } from '../../../src/cli/s0/flags.js';

const specs: FlagSpec[] = [
  { name: 'sandbox-id', short: 's', kind: 'string', usage: '' },
  { name: 'output', short: 'o', kind: 'string', usage: '', defaultValue: 'table' },
  { name: 'allow-domain', kind: 'stringArray', usage: '' },
  { name: 'limit', kind: 'int', usage: '', defaultValue: 50 },
  { name: 'ttl', kind: 'int', bits: 32, usage: '' },
  { name: 'help', short: 'h', kind: 'bool', usage: '' },
];

describe('cobra/pflag-compatible flag parsing', () => {
  it('reads long, short, attached and = forms, repeated arrays, defaults and interleaved positionals', () => {
    const parsed = parseFlags(['get', '-s', 'sb-1', '--allow-domain', 'a.example', 'extra', '--allow-domain=b.example', '-ojson', '--limit=7'], specs);
    const f = flagReader(parsed);
    expect(f.str('sandbox-id')).toBe('sb-1');
    expect(f.str('output')).toBe('json');
    expect(f.list('allow-domain')).toEqual(['a.example', 'b.example']);
    expect(f.int('limit')).toBe(7);
    expect(parsed.positionals).toEqual(['get', 'extra']);
    expect(f.changed('ttl')).toBe(false);
    expect(f.int('ttl')).toBe(0);
    expect(flagReader(parseFlags([], specs)).int('limit')).toBe(50);
    expect(flagReader(parseFlags(['-s=sb-2'], specs)).str('sandbox-id')).toBe('sb-2');
  });

  it('takes the next word as a value even when it starts with a dash, and stops at --', () => {
    const parsed = parseFlags(['--sandbox-id', '-weird', '--', '--limit', 'x'], specs);
    expect(flagReader(parsed).str('sandbox-id')).toBe('-weird');
    expect(parsed.afterDash).toEqual(['--limit', 'x']);
    expect(flagReader(parsed).int('limit')).toBe(50);
  });

  it.each([
    [['--nope'], 'unknown flag: --nope'],
    [['-x'], "unknown shorthand flag: 'x' in -x"],
    [['--sandbox-id'], 'flag needs an argument: --sandbox-id'],
    [['-s'], "flag needs an argument: 's' in -s"],
    [['--limit', 'ten'], 'invalid argument "ten" for "--limit" flag: strconv.ParseInt: parsing "ten": invalid syntax'],
    [['--ttl', '3000000000'], 'invalid argument "3000000000" for "--ttl" flag: strconv.ParseInt: parsing "3000000000": value out of range'],
    [['--help=maybe'], 'invalid argument "maybe" for "-h, --help" flag: strconv.ParseBool: parsing "maybe": invalid syntax'],
  ])('rejects %j with pflag message', (args, message) => {
    expect(() => parseFlags(args, specs)).toThrow(FlagError);
    expect(() => parseFlags(args, specs)).toThrow(message);
  });

  it('parses integers like Go strconv.ParseInt', () => {
    expect(goParseInt('+42')).toBe(42);
    expect(goParseInt('-7')).toBe(-7);
    expect(() => goParseInt('1_000')).toThrow('invalid syntax');
    expect(() => goParseInt('2147483648', 32)).toThrow('value out of range');
    expect(goParseInt('2147483647', 32)).toBe(2147483647);
  });
});
