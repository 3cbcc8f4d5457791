import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { clientInitialKeys, decryptClientInitial, QuicVersion, readVarint } from '../../../src/classify/quic-initial.js';
import { extractQuicClientHello } from '../../../src/classify/quic-sni.js';

interface Vector {
  version: number;
  clientKey: string;
  clientIv: string;
  clientHp: string;
  packet: string;
}
const vectors = JSON.parse(readFileSync(new URL('../../../fixtures/handshakes/rfc-quic-initial-vectors.json', import.meta.url), 'utf8')) as {
  dcid: string;
  rfcCryptoFrame: string;
  v1: Vector;
  v2: Vector;
};
const dcid = Buffer.from(vectors.dcid, 'hex');

describe.each([
  ['RFC 9001 A.2 (v1)', vectors.v1, QuicVersion.V1],
  ['RFC 9369 A.2 (v2)', vectors.v2, QuicVersion.V2],
] as const)('%s client Initial', (_name, vector, version) => {
  const packet = Buffer.from(vector.packet, 'hex');

  it('derives the client keys of the RFC', () => {
    const keys = clientInitialKeys(version, dcid)!;
    expect(keys.key.toString('hex')).toBe(vector.clientKey);
    expect(keys.iv.toString('hex')).toBe(vector.clientIv);
    expect(keys.hp.toString('hex')).toBe(vector.clientHp);
  });

  it('decrypts to one CRYPTO frame at offset 0', () => {
    expect(packet.length).toBe(1200);
    const decoded = decryptClientInitial(packet);
    expect(decoded.kind).toBe('ok');
    if (decoded.kind !== 'ok') return;
    expect(decoded.version).toBe(version);
    expect(decoded.dcid.toString('hex')).toBe(vectors.dcid);
    expect(decoded.crypto.map((f) => [f.offset, f.data.length])).toEqual([[0, 241]]);
    // The RFC prints the plaintext CRYPTO frame: type 06, offset 00, length 40f1, then the data.
    expect(decoded.crypto[0]!.data.toString('hex')).toBe(vectors.rfcCryptoFrame.slice(8));
  });

  it('gives SNI example.com and ALPN ["alpn"]', () => {
    expect(extractQuicClientHello(packet)).toEqual({
      kind: 'client-hello',
      hello: { serverName: 'example.com', alpn: ['alpn'] },
    });
  });

  it('rejects the packet when one ciphertext bit is flipped (AEAD tag)', () => {
    const tampered = Buffer.from(packet);
    tampered[600] = tampered[600]! ^ 0x01;
    expect(decryptClientInitial(tampered).kind).toBe('malformed');
  });

  it('rejects the packet when the DCID is altered (wrong keys)', () => {
    const tampered = Buffer.from(packet);
    tampered[6] = tampered[6]! ^ 0x01;
    expect(decryptClientInitial(tampered).kind).toBe('malformed');
  });

  it('is not QUIC when truncated below a long header', () => {
    expect(decryptClientInitial(packet.subarray(0, 6)).kind).toBe('not-quic');
  });

  it('is malformed when the datagram is shorter than the packet length', () => {
    expect(decryptClientInitial(packet.subarray(0, 600)).kind).toBe('malformed');
  });
});

describe('QUIC header dispatch', () => {
  it('does not take a v1 packet type bit pattern as a v2 Initial', () => {
    // v2 Initial type is 0b01; the v1 packet with a v2 version number is a v2 0-RTT packet.
    const packet = Buffer.from(vectors.v1.packet, 'hex');
    packet.writeUInt32BE(QuicVersion.V2, 1);
    expect(decryptClientInitial(packet).kind).toBe('not-quic');
  });

  it('ignores unknown versions and short headers', () => {
    const packet = Buffer.from(vectors.v1.packet, 'hex');
    packet.writeUInt32BE(0xff00001d, 1);
    expect(decryptClientInitial(packet).kind).toBe('not-quic');
    expect(decryptClientInitial(Buffer.from('4000000000000000', 'hex')).kind).toBe('not-quic');
  });

  it('reads variable-length integers of every size (RFC 9000 A.1 examples)', () => {
    expect(readVarint(Buffer.from('c2197c5eff14e88c', 'hex'), 0)).toEqual([151288809941952652, 8]);
    expect(readVarint(Buffer.from('9d7f3e7d', 'hex'), 0)).toEqual([494878333, 4]);
    expect(readVarint(Buffer.from('7bbd', 'hex'), 0)).toEqual([15293, 2]);
    expect(readVarint(Buffer.from('25', 'hex'), 0)).toEqual([37, 1]);
    expect(readVarint(Buffer.from('7b', 'hex'), 0)).toBeUndefined();
  });
});
