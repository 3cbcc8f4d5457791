import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { classifyUdp } from '../../../src/classify/classify-udp.js';
import { contiguousPrefix, QuicCryptoReassembler } from '../../../src/classify/quic-crypto-reassembler.js';
import { QuicVersion } from '../../../src/classify/quic-initial.js';
import { extractQuicClientHello } from '../../../src/classify/quic-sni.js';
import { clientHelloMessage, clientHelloRecord, clientInitialPacket, cryptoFrame } from './handshake-builders.js';

const vectors = JSON.parse(readFileSync(new URL('../../../fixtures/handshakes/rfc-quic-initial-vectors.json', import.meta.url), 'utf8')) as {
  v1: { packet: string };
  v2: { packet: string };
};
const rfcV1 = Buffer.from(vectors.v1.packet, 'hex');
const rfcV2 = Buffer.from(vectors.v2.packet, 'hex');
const src = '10.0.0.5:50000';
const dst = '198.18.0.20:443';

/** A ClientHello too large for one Initial, split in two CRYPTO frames in two packets. */
function splitHello(serverName: string, version: number = QuicVersion.V1) {
  const message = clientHelloMessage({ serverName, alpn: ['h3'], extra: [{ type: 0xfe0d, data: Buffer.alloc(1500, 0x42) }] });
  const dcid = Buffer.from('0123456789abcdef', 'hex');
  const half = 900;
  const first = clientInitialPacket({ version, dcid, packetNumber: 0, frames: cryptoFrame(0, message.subarray(0, half)) });
  const second = clientInitialPacket({ version, dcid, packetNumber: 1, frames: cryptoFrame(half, message.subarray(half)) });
  return { first, second, message };
}

describe('classifyUdp (reference §3.6)', () => {
  it('is missing_original_dst without an original destination', () => {
    expect(classifyUdp(rfcV1, { domainRulesExist: true, dst: null })).toEqual({ kind: 'unknown', reason: 'missing_original_dst' });
  });

  it('is known udp without a host when no domain rules exist (no SNI parsing)', () => {
    expect(classifyUdp(rfcV1, { domainRulesExist: false, dst })).toEqual({ kind: 'known', appProtocol: 'udp' });
    expect(classifyUdp(Buffer.from('plain dns?'), { domainRulesExist: false, dst })).toEqual({ kind: 'known', appProtocol: 'udp' });
  });

  it.each([
    ['v1', rfcV1],
    ['v2', rfcV2],
  ])('takes the SNI of the RFC %s Initial', (_v, packet) => {
    expect(classifyUdp(packet, { domainRulesExist: true, dst })).toEqual({ kind: 'known', appProtocol: 'udp', host: 'example.com', alpn: ['alpn'] });
  });

  it('lowercases the QUIC SNI', () => {
    const packet = clientInitialPacket({ frames: cryptoFrame(0, clientHelloMessage({ serverName: 'QUIC.Example.COM' })) });
    expect(classifyUdp(packet, { domainRulesExist: true, dst })).toMatchObject({ kind: 'known', host: 'quic.example.com' });
  });

  it('tries plain TLS handshake bytes first', () => {
    const record = clientHelloRecord({ serverName: 'Dtls.Example.com' });
    expect(classifyUdp(record, { domainRulesExist: true, dst })).toEqual({ kind: 'known', appProtocol: 'udp', host: 'dtls.example.com' });
  });

  it('is missing_sni for a QUIC ClientHello without SNI', () => {
    const packet = clientInitialPacket({ frames: cryptoFrame(0, clientHelloMessage({ alpn: ['h3'] })) });
    expect(classifyUdp(packet, { domainRulesExist: true, dst })).toEqual({ kind: 'unknown', reason: 'missing_sni' });
  });

  it('is missing_sni for non-QUIC datagrams (plain DNS, post-handshake short headers)', () => {
    const dnsQuery = Buffer.from('00070100000100000000000003777777076578616d706c6503636f6d0000010001', 'hex');
    expect(classifyUdp(dnsQuery, { domainRulesExist: true, dst })).toEqual({ kind: 'unknown', reason: 'missing_sni' });
    const shortHeader = Buffer.concat([Buffer.from([0x41]), Buffer.alloc(40, 1)]);
    expect(classifyUdp(shortHeader, { domainRulesExist: true, dst })).toEqual({ kind: 'unknown', reason: 'missing_sni' });
  });

  it.each([QuicVersion.V1, QuicVersion.V2])('reassembles a ClientHello spanning two Initials (version %s)', (version) => {
    const reassembler = new QuicCryptoReassembler();
    const { first, second } = splitHello('Big.Example.com', version);
    expect(classifyUdp(first, { domainRulesExist: true, dst, src, reassembler })).toEqual({ kind: 'unknown', reason: 'missing_sni' });
    expect(reassembler.size).toBe(1);
    expect(classifyUdp(second, { domainRulesExist: true, dst, src, reassembler })).toEqual({ kind: 'known', appProtocol: 'udp', host: 'big.example.com', alpn: ['h3'] });
    expect(reassembler.size).toBe(0); // done: the entry is released
  });

  it('reassembles packets arriving out of order', () => {
    const reassembler = new QuicCryptoReassembler();
    const { first, second } = splitHello('ooo.example.com');
    expect(classifyUdp(second, { domainRulesExist: true, dst, src, reassembler })).toMatchObject({ kind: 'unknown' });
    expect(classifyUdp(first, { domainRulesExist: true, dst, src, reassembler })).toMatchObject({ host: 'ooo.example.com' });
  });

  it('keeps connections apart by (src, dst, DCID)', () => {
    const reassembler = new QuicCryptoReassembler();
    const { first, second } = splitHello('apart.example.com');
    classifyUdp(first, { domainRulesExist: true, dst, src, reassembler });
    expect(classifyUdp(second, { domainRulesExist: true, dst, src: '10.0.0.5:50001', reassembler })).toMatchObject({ reason: 'missing_sni' });
    expect(classifyUdp(second, { domainRulesExist: true, dst: '198.18.0.21:443', src, reassembler })).toMatchObject({ reason: 'missing_sni' });
    expect(classifyUdp(second, { domainRulesExist: true, dst, src, reassembler })).toMatchObject({ host: 'apart.example.com' });
  });

  it('handles CRYPTO frames shuffled inside one packet (as Chrome sends them)', () => {
    const message = clientHelloMessage({ serverName: 'shuffle.example.com' });
    const frames = Buffer.concat([
      cryptoFrame(60, message.subarray(60)),
      Buffer.from([0x01]), // PING
      Buffer.from([0x00, 0x00]), // PADDING
      cryptoFrame(0, message.subarray(0, 60)),
    ]);
    expect(extractQuicClientHello(clientInitialPacket({ frames }))).toMatchObject({ kind: 'client-hello', hello: { serverName: 'shuffle.example.com' } });
  });

  it('tolerates ACK frames in an Initial', () => {
    const ack = Buffer.from([0x02, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00]); // 1 extra range
    const ackEcn = Buffer.from([0x03, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03]);
    const frames = Buffer.concat([ack, ackEcn, cryptoFrame(0, clientHelloMessage({ serverName: 'ack.example.com' }))]);
    expect(extractQuicClientHello(clientInitialPacket({ frames }))).toMatchObject({ hello: { serverName: 'ack.example.com' } });
  });

  it('rejects frame types not allowed in Initial packets', () => {
    const frames = Buffer.concat([Buffer.from([0x08, 0x00]), cryptoFrame(0, clientHelloMessage({ serverName: 'x.example.com' }))]);
    expect(extractQuicClientHello(clientInitialPacket({ frames }))).toMatchObject({ kind: 'malformed' });
  });
});

describe('QuicCryptoReassembler bounds', () => {
  const frame = (offset: number, n: number, fill = 1) => ({ offset, data: Buffer.alloc(n, fill) });

  it('expires entries 20 s after creation (injected clock)', () => {
    let now = 1_000;
    const r = new QuicCryptoReassembler({ now: () => now });
    r.add('a', [frame(0, 10)]);
    now += 19_999;
    expect(r.has('a')).toBe(true);
    now += 1;
    expect(r.has('a')).toBe(false);
    r.add('b', [frame(0, 1)]); // purges expired entries
    expect(r.size).toBe(1);
    expect(r.add('a', [frame(10, 5)]).length).toBe(0); // a new entry: the old bytes are gone
  });

  it('holds at most maxStreams connections, evicting the oldest', () => {
    const r = new QuicCryptoReassembler({ maxStreams: 3, now: () => 0 });
    for (const k of ['a', 'b', 'c', 'd']) r.add(k, [frame(0, 1)]);
    expect(r.size).toBe(3);
    expect(r.has('a')).toBe(false);
    expect(r.has('d')).toBe(true);
  });

  it('the default bound is 2048 connections', () => {
    const r = new QuicCryptoReassembler({ now: () => 0 });
    for (let i = 0; i < 2100; i++) r.add(`k${i}`, [frame(0, 1)]);
    expect(r.size).toBe(2048);
  });

  it('drops bytes beyond 256 KiB per connection', () => {
    const r = new QuicCryptoReassembler({ now: () => 0 });
    expect(r.add('a', [frame(0, 200 * 1024)]).length).toBe(200 * 1024);
    expect(r.add('a', [frame(200 * 1024, 56 * 1024)]).length).toBe(256 * 1024);
    expect(r.add('a', [frame(256 * 1024, 1)]).length).toBe(256 * 1024);
    expect(r.add('a', [frame(10 * 1024 * 1024, 1)]).length).toBe(256 * 1024);
  });

  it('merges overlapping and duplicate frames', () => {
    const data = Buffer.from('abcdefghij');
    const prefix = contiguousPrefix([
      { offset: 4, data: data.subarray(4, 8) },
      { offset: 0, data: data.subarray(0, 6) },
      { offset: 0, data: data.subarray(0, 2) },
      { offset: 7, data: data.subarray(7) },
    ]);
    expect(prefix.toString()).toBe('abcdefghij');
    expect(contiguousPrefix([{ offset: 1, data }]).length).toBe(0);
  });
});
