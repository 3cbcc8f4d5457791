/**
 * Fuzz: mutated and truncated ClientHellos, QUIC Initials, HTTP heads and random bytes must never
 * throw out of the classifiers, must terminate, and must respect the header limit. Deterministic
 * (seeded PRNG) and bounded in iterations.
 */
import { readFileSync } from 'node:fs';
import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { classifyTcp, tcpMatchers } from '../../../src/classify/classify-tcp.js';
import { classifyUdp } from '../../../src/classify/classify-udp.js';
import { QuicCryptoReassembler } from '../../../src/classify/quic-crypto-reassembler.js';
import { decryptClientInitial, parseInitialFrames, type CryptoFrame } from '../../../src/classify/quic-initial.js';
import { parseClientHelloBody, parseTlsClientHelloRecords } from '../../../src/classify/tls-client-hello.js';
import { fuzz, mutateBytesMany } from '../../helpers/fuzz.js';
import { clientHelloMessage, clientHelloRecord, clientInitialPacket, cryptoFrame, prng, tlsRecords } from './handshake-builders.js';

const iterations = 3_000;
const vectors = JSON.parse(readFileSync(new URL('../../../fixtures/handshakes/rfc-quic-initial-vectors.json', import.meta.url), 'utf8')) as {
  v1: { packet: string };
  v2: { packet: string };
};

function mutate(rand: () => number, input: Buffer): Buffer {
  const out = Buffer.from(input);
  const kind = Math.floor(rand() * 5);
  if (kind === 0) return out.subarray(0, Math.floor(rand() * out.length)); // truncate
  if (kind === 1) {
    const flips = 1 + Math.floor(rand() * 8);
    for (let i = 0; i < flips; i++) {
      const at = Math.floor(rand() * out.length);
      out[at] = out[at]! ^ (1 << Math.floor(rand() * 8));
    }
    return out;
  }
  if (kind === 2) {
    // Overwrite a length-ish pair with extreme values.
    const at = Math.floor(rand() * Math.max(1, out.length - 2));
    out.writeUInt16BE(rand() < 0.5 ? 0xffff : Math.floor(rand() * 0x10000), at);
    return out;
  }
  if (kind === 3) return Buffer.concat([out, randomBytes(rand, Math.floor(rand() * 64))]);
  const at = Math.floor(rand() * out.length);
  return Buffer.concat([out.subarray(0, at), randomBytes(rand, 1 + Math.floor(rand() * 16)), out.subarray(at)]);
}

function randomBytes(rand: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

function expectClassification(buf: Buffer, headerLimit = 65_536): void {
  const result = classifyTcp(buf, { headerLimit });
  expect(['known', 'unknown', 'need-more']).toContain(result.kind);
  if (buf.length >= headerLimit) expect(result.kind).not.toBe('need-more');
  const final = classifyTcp(buf, { final: true, headerLimit });
  expect(final.kind).not.toBe('need-more');
}

describe('fuzz', () => {
  const hello = clientHelloRecord({ serverName: 'fuzz.example.com', alpn: ['h2', 'http/1.1'] });
  const fragmented = tlsRecords(clientHelloMessage({ serverName: 'frag.example.com', alpn: ['h2'] }), 17);
  const http = Buffer.from('GET http://a.example.com:8080/p?q HTTP/1.1\r\nHost: [2001:db8::1]:443\r\nX: y\r\n\r\n', 'latin1');

  it.each([
    ['TLS ClientHello', hello, 1],
    ['fragmented ClientHello', fragmented, 2],
    ['HTTP head', http, 3],
  ] as const)('mutated %s never throws and stays within limits', (_name, seed, seedNo) => {
    const rand = prng(seedNo * 7919);
    for (let i = 0; i < iterations; i++) {
      const input = mutate(rand, seed);
      expectClassification(input);
      expectClassification(input, 64); // a tiny limit exercises the limit path on every input
      const records = parseTlsClientHelloRecords(input);
      expect(['ok', 'need-more', 'malformed', 'not-tls']).toContain(records.kind);
    }
  });

  /** A first client message of every protocol the TCP classifier knows besides TLS and HTTP. */
  const dnsQuery = dnsPacket.encode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'db.corp.example.com', class: 'IN' }] });
  const mongoMsg = Buffer.alloc(21);
  mongoMsg.writeInt32LE(21, 0);
  mongoMsg.writeInt32LE(2013, 12);
  const protocolSeeds: [string, Buffer][] = [
    ['amqp', Buffer.from('AMQP\x00\x00\x09\x01', 'latin1')],
    ['dns', Buffer.concat([Buffer.from([dnsQuery.length >> 8, dnsQuery.length & 0xff]), dnsQuery])],
    ['mqtt', Buffer.from('\x10\x10\x00\x04MQTT\x04\x02\x00\x3c\x00\x04fuzz', 'latin1')],
    ['mongodb', mongoMsg],
    ['redis', Buffer.from('*1\r\n$4\r\nPING\r\n', 'latin1')],
    ['socks5', Buffer.from([0x05, 0x02, 0x00, 0x02])],
    ['ssh', Buffer.from('SSH-2.0-OpenSSH_9.6\r\n', 'latin1')],
  ];

  it('each protocol seed classifies as its protocol (so the mutations start from real messages)', () => {
    for (const [protocol, seed] of protocolSeeds) expect(classifyTcp(seed), protocol).toMatchObject({ kind: 'known', appProtocol: protocol });
  });

  it.each(protocolSeeds)('mutated %s messages never throw out of any matcher, and every matcher answers one of its kinds', async (protocol, seed) => {
    const f = fuzz(`classifier ${protocol}`, { seed: 0xc1a55 + seed.length, iterations: 1_000, budgetMs: 1_500 });
    await f.loop(() => {
      const input = mutateBytesMany(f, seed);
      for (const { name, match } of tcpMatchers) {
        const m = match(input);
        expect(['matched', 'no-match', 'need-more', 'unknown'], f.where(`${name} on ${input.toString('hex').slice(0, 80)}`)).toContain(m.kind);
      }
      expectClassification(input);
      expectClassification(input, 16);
    });
  });

  it('random bytes never throw', () => {
    const rand = prng(42);
    for (let i = 0; i < iterations; i++) {
      const input = randomBytes(rand, Math.floor(rand() * 300));
      expectClassification(input);
      expect(() => parseClientHelloBody(input)).not.toThrow();
      const frames: CryptoFrame[] = [];
      expect(() => parseInitialFrames(input, frames)).not.toThrow();
    }
  });

  it('every truncation of a ClientHello is need-more, and the whole is known only in one record (upstream reads the first)', () => {
    for (let n = 1; n < fragmented.length; n++) expect(classifyTcp(fragmented.subarray(0, n)).kind).toBe('need-more');
    expect(classifyTcp(fragmented).kind).toBe('need-more');
    const single = tlsRecords(clientHelloMessage({ serverName: 'frag.example.com' }));
    for (let n = 1; n < single.length; n++) expect(classifyTcp(single.subarray(0, n)).kind).toBe('need-more');
    expect(classifyTcp(single)).toMatchObject({ kind: 'known', host: 'frag.example.com' });
  });

  it('mutated QUIC Initials never throw and keep the reassembler bounded', () => {
    const rand = prng(9001);
    const reassembler = new QuicCryptoReassembler({ maxStreams: 16, now: () => 0 });
    const seeds = [
      Buffer.from(vectors.v1.packet, 'hex'),
      Buffer.from(vectors.v2.packet, 'hex'),
      clientInitialPacket({ dcid: Buffer.alloc(8, 1), frames: cryptoFrame(0, clientHelloMessage({ serverName: 'q.example.com' }).subarray(0, 50)) }),
    ];
    for (let i = 0; i < 600; i++) {
      const input = mutate(rand, seeds[i % seeds.length]!);
      expect(() => decryptClientInitial(input)).not.toThrow();
      const result = classifyUdp(input, { domainRulesExist: true, dst: '198.18.0.1:443', src: `10.0.0.1:${i % 40}`, reassembler });
      expect(['known', 'unknown']).toContain(result.kind);
      expect(reassembler.size).toBeLessThanOrEqual(16);
    }
  });

  it('decrypted-but-hostile frames (valid AEAD, random plaintext) never throw', () => {
    const rand = prng(7);
    for (let i = 0; i < 300; i++) {
      const packet = clientInitialPacket({ frames: randomBytes(rand, 1 + Math.floor(rand() * 200)) });
      expect(() => classifyUdp(packet, { domainRulesExist: true, dst: '198.18.0.1:443' })).not.toThrow();
    }
  });
});
