import { describe, expect, it } from 'vitest';
import { parseCredentialSourceFile } from '../../../src/cli/s0/credential-file.js';
import { FlagError, parseFlags, type FlagSpec } from '../../../src/cli/s0/flags.js';
import { splitHostPort } from '../../../src/go/net.js';
import { buildNetworkPolicy, emptyNetworkUpdateOptions } from '../../../src/cli/s0/network-policy-builder.js';
import { parsePortSpec } from '../../../src/cli/s0/port-spec.js';
import { normalizeProxyAddress } from '../../../src/cli/s0/proxy-flag.js';

/** Random and mutated input never crashes the CLI parsers: they return a value or throw an Error. */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
const alphabet = 'socks5://@:/?#[]-_.0123456789 aZ\t\n{}",\'!*&';
const seeds = ['socks5://proxy.example.com:1080', '443/tcp', '8000-8100/udp', '[::1]:1080', 'name: x\nresolverKind: static_headers\nspec: {staticHeaders: {values: {a: b}}}'];

function randomString(rand: () => number, max = 40): string {
  if (rand() < 0.5) {
    const base = seeds[Math.floor(rand() * seeds.length)]!.split('');
    for (let i = 0; i < 4; i++) base.splice(Math.floor(rand() * (base.length + 1)), rand() < 0.5 ? 1 : 0, alphabet[Math.floor(rand() * alphabet.length)]!);
    return base.join('');
  }
  return Array.from({ length: Math.floor(rand() * max) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
}

const specs: FlagSpec[] = [
  { name: 'sandbox-id', short: 's', kind: 'string', usage: '' },
  { name: 'allow-port', kind: 'stringArray', usage: '' },
  { name: 'limit', kind: 'int', usage: '' },
  { name: 'help', short: 'h', kind: 'bool', usage: '' },
];

describe('CLI parser fuzzing', () => {
  it('string parsers return or throw an Error for 3000 random and mutated inputs', async () => {
    const rand = prng(0x5eed);
    for (let i = 0; i < 3000; i++) {
      const input = randomString(rand);
      for (const parse of [normalizeProxyAddress, parsePortSpec, splitHostPort]) {
        try {
          parse(input);
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
        }
      }
      await parseCredentialSourceFile(input).catch((err: unknown) => expect(err).toBeInstanceOf(Error));
      await buildNetworkPolicy({ ...emptyNetworkUpdateOptions(), mode: 'block-all', proxy: input, trafficRules: [input] }, async () => '').catch((err: unknown) =>
        expect(err).toBeInstanceOf(Error),
      );
    }
  });

  it('the flag parser only ever throws FlagError for 3000 random argument lists', () => {
    const rand = prng(0xf1a6);
    const words = ['-s', '--sandbox-id', '--allow-port', '--limit', '-h', '--', '-', '--help=true', '-sx', '--nope', 'x', '12', '-hs'];
    for (let i = 0; i < 3000; i++) {
      const args = Array.from({ length: Math.floor(rand() * 6) }, () => (rand() < 0.8 ? words[Math.floor(rand() * words.length)]! : randomString(rand, 8)));
      try {
        parseFlags(args, specs);
      } catch (err) {
        expect(err).toBeInstanceOf(FlagError);
      }
    }
  });
});
