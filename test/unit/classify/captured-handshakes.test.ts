/** The ClientHellos captured from real clients (fixtures/handshakes) against read-tls-client-hello. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { classifyTcp } from '../../../src/classify/classify-tcp.js';
import { parseTlsClientHelloRecords } from '../../../src/classify/tls-client-hello.js';
import { oracleHello } from '../../integration/classify/oracle.js';
import { tlsRecords } from './handshake-builders.js';

const captures = JSON.parse(readFileSync(new URL('../../../fixtures/handshakes/captured-client-hellos.json', import.meta.url), 'utf8')) as {
  client: string;
  serverName?: string;
  alpn?: string[];
  hex: string;
}[];

describe.each(captures)('captured ClientHello from $client', ({ serverName, alpn, hex }) => {
  const bytes = Buffer.from(hex, 'hex');

  it('gives the same SNI and ALPN as read-tls-client-hello', async () => {
    const ours = parseTlsClientHelloRecords(bytes);
    expect(ours.kind).toBe('ok');
    if (ours.kind !== 'ok') return;
    const oracle = await oracleHello(bytes);
    expect(ours.hello.serverName).toBe(oracle.serverName);
    expect(ours.hello.alpn).toEqual(oracle.alpn);
  });

  it('classifies as the client was configured', () => {
    const expected = serverName === undefined ? { kind: 'unknown', reason: 'missing_sni' } : { kind: 'known', appProtocol: 'tls', host: serverName, ...(alpn ? { alpn } : {}) };
    expect(classifyTcp(bytes)).toEqual(expected);
  });

  // Upstream reads the first record only (classifier.go:510-515 @b1f245c2): re-fragmented into
  // 100-byte records the hello never classifies; it is unclassified when the client stops sending.
  it('does not classify when re-fragmented into 100-byte records, as upstream', () => {
    const message = bytes.subarray(5);
    expect(classifyTcp(tlsRecords(message, 100))).toEqual({ kind: 'need-more' });
    expect(classifyTcp(tlsRecords(message, 100), { final: true })).toEqual({ kind: 'unknown', reason: 'unclassified' });
  });
});

it('has captures from node, openssl and curl', () => {
  const clients = captures.map((c) => c.client).join(' ');
  for (const name of ['node', 'openssl', 'curl']) expect(clients).toContain(name);
});
