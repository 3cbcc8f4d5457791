import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseConntrackLine } from '../../../src/interception/transparent/conntrack-line.js';
import { OriginalDestinationIndex } from '../../../src/interception/transparent/original-destination-index.js';

/** Pure parts of original-destination capture: conntrack's text format and the bounded index. */

describe('parseConntrackLine', () => {
  it('reads the original tuple of a conntrack -E event (TCP and UDP)', () => {
    expect(
      parseConntrackLine('    [NEW] tcp      6 120 SYN_SENT src=10.77.0.2 dst=198.18.9.9 sport=41234 dport=443 [UNREPLIED] src=10.77.0.1 dst=10.77.0.2 sport=15001 dport=41234'),
    ).toEqual({ protocol: 'tcp', source: { ip: '10.77.0.2', port: 41234 }, destination: { ip: '198.18.9.9', port: 443 }, peer: { ip: '10.77.0.2', port: 41234 } });
    expect(parseConntrackLine('    [NEW] udp      17 30 src=10.77.0.2 dst=198.18.0.77 sport=5353 dport=4433 [UNREPLIED] src=10.77.0.1 dst=10.77.0.2 sport=40000 dport=5353')).toEqual({
      protocol: 'udp',
      source: { ip: '10.77.0.2', port: 5353 },
      destination: { ip: '198.18.0.77', port: 4433 },
      peer: { ip: '10.77.0.2', port: 5353 },
    });
  });

  it('takes the peer from the reply tuple when the kernel remapped the source port', () => {
    // The sandbox reused port 41234 while an older redirected flow still held that reply tuple.
    const e = parseConntrackLine('    [NEW] tcp      6 120 SYN_SENT src=10.77.0.2 dst=198.19.0.5 sport=41234 dport=443 [UNREPLIED] src=10.77.0.1 dst=10.77.0.2 sport=15001 dport=23716');
    expect(e?.source.port).toBe(41234);
    expect(e?.peer).toEqual({ ip: '10.77.0.2', port: 23716 });
  });

  it('reads a /proc/net/nf_conntrack line', () => {
    expect(
      parseConntrackLine('ipv4     2 tcp      6 117 SYN_RECV src=10.77.0.2 dst=198.18.3.4 sport=50000 dport=8080 src=10.77.0.1 dst=10.77.0.2 sport=15001 dport=50000 mark=0 zone=0 use=2'),
    ).toEqual({ protocol: 'tcp', source: { ip: '10.77.0.2', port: 50000 }, destination: { ip: '198.18.3.4', port: 8080 }, peer: { ip: '10.77.0.2', port: 50000 } });
  });

  it('ignores other protocols, truncated lines and garbage without throwing', () => {
    expect(parseConntrackLine('    [NEW] icmp     1 30 src=10.77.0.2 dst=198.18.7.7 type=8 code=0 id=1 [UNREPLIED]')).toBeUndefined();
    expect(parseConntrackLine('    [NEW] tcp      6 120 SYN_SENT src=10.77.0.2 dst=198.18.9.9 sport=41234')).toBeUndefined();
    expect(parseConntrackLine('    [NEW] tcp      6 120 SYN_SENT src=10.77.0.2 dst=198.18.9.9 sport=99999 dport=443')).toBeUndefined();
    expect(parseConntrackLine('')).toBeUndefined();
    for (let i = 0; i < 500; i++) {
      const noise = randomBytes(1 + (i % 200)).toString('latin1');
      expect(() => parseConntrackLine(noise)).not.toThrow();
      expect(() => parseConntrackLine(`[NEW] tcp 6 1 src=${noise} dport=${noise}`)).not.toThrow();
    }
  });
});

describe('OriginalDestinationIndex', () => {
  const entry = (port: number, dport = 443) => ({
    protocol: 'tcp' as const,
    source: { ip: '10.77.0.2', port },
    destination: { ip: '198.18.9.9', port: dport },
    peer: { ip: '10.77.0.2', port },
  });

  it('answers a lookup made before the event as soon as it arrives', async () => {
    const index = new OriginalDestinationIndex();
    const pending = index.lookup('tcp', '10.77.0.2', 40000, { timeoutMs: 1000 });
    index.add(entry(40000));
    await expect(pending).resolves.toEqual({ ip: '198.18.9.9', port: 443 });
  });

  it('gives undefined after the bounded wait, and keeps UDP and TCP apart', async () => {
    const index = new OriginalDestinationIndex();
    index.add(entry(40001));
    await expect(index.lookup('udp', '10.77.0.2', 40001, { timeoutMs: 10 })).resolves.toBeUndefined();
    await expect(index.lookup('tcp', '10.77.0.3', 40001, { timeoutMs: 10 })).resolves.toBeUndefined();
  });

  it('consumes TCP entries so a reused source port never gets a stale destination', async () => {
    const index = new OriginalDestinationIndex();
    index.add(entry(40002, 443));
    await expect(index.lookup('tcp', '10.77.0.2', 40002, { consume: true })).resolves.toEqual({ ip: '198.18.9.9', port: 443 });
    await expect(index.lookup('tcp', '10.77.0.2', 40002, { consume: true, timeoutMs: 10 })).resolves.toBeUndefined();
    index.add(entry(40002, 8443));
    await expect(index.lookup('tcp', '10.77.0.2', 40002, { consume: true })).resolves.toEqual({ ip: '198.18.9.9', port: 8443 });
  });

  it('is bounded: entries expire and the oldest are evicted', () => {
    let now = 0;
    const index = new OriginalDestinationIndex({ ttlMs: 100, maxEntries: 3, now: () => now });
    for (let p = 1; p <= 5; p++) index.add(entry(p));
    expect(index.size).toBe(3);
    expect(index.peek('tcp', '10.77.0.2', 1)).toBeUndefined();
    expect(index.peek('tcp', '10.77.0.2', 5)).toEqual({ ip: '198.18.9.9', port: 443 });
    now = 1000;
    expect(index.peek('tcp', '10.77.0.2', 5)).toBeUndefined();
    index.sweep();
    expect(index.size).toBe(0);
  });

  it('clear() releases pending lookups', async () => {
    const index = new OriginalDestinationIndex();
    const pending = index.lookup('udp', '10.77.0.2', 1, { timeoutMs: 10_000 });
    index.clear();
    await expect(pending).resolves.toBeUndefined();
  });
});
