import { describe, expect, it } from 'vitest';
import { goParseCidrOk } from '../../../src/go/cidr.js';

// Expectations checked against Go's net.ParseCIDR; `00001::/16` is refused since Go 1.22's netip-based
// parser (at most four hex digits per field), which is what upstream's go 1.25.5 runs.
const cases: [string, boolean][] = [
  ['10.0.0.0/8', true],
  ['10.0.0.0/08', true],
  ['010.0.0.0/8', false],
  ['10.0.0/8', false],
  ['10.0.0.0', false],
  ['10.0.0.0/33', false],
  ['10.0.0.0/+8', false],
  ['10.0.0.0/', false],
  ['::/0', true],
  ['::1/128', true],
  ['::1/129', false],
  ['fe80::1%eth0/64', false],
  ['::ffff:1.2.3.4/96', true],
  ['::ffff:1.2.3.4/120', true],
  ['1:2:3:4:5:6:1.2.3.4/64', true],
  ['1:2:3:4:5:6:7:1.2.3.4/64', false],
  ['1:2:3:4:5:6:7:8/64', true],
  ['1:2:3:4:5:6:7:8:9/64', false],
  ['1::2::3/64', false],
  ['00001::/16', false],
  ['0001::/16', true],
  ['1:2:3:4:5:6:7::/64', true],
  ['::1:2:3:4:5:6:7:8/64', false],
  ['1.2.3.4/8/9', false],
  [':1::/16', false],
  ['1:/16', false],
  ['::01.2.3.4/64', false],
  ['255.255.255.255/32', true],
  ['256.0.0.0/8', false],
  ['1.2.3.4/4294967304', false],
  ['::ffff:1.2.3/96', false],
  ['1:2:3:4:5:6:7:8::/64', false],
  ['::1.2.3.4:5/64', false],
];

describe("Go's net.ParseCIDR acceptance", () => {
  it.each(cases)('%s → %s', (cidr, ok) => {
    expect(goParseCidrOk(cidr)).toBe(ok);
  });
});
