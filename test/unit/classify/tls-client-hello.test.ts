import { classifyTcp } from '../../../src/classify/classify-tcp.js';
import { describe, expect, it } from 'vitest';
import { normalizeHost } from '../../../src/classify/http.js';
import { matchTls } from '../../../src/classify/tls.js';
import { parseClientHelloBody, parseTlsClientHelloRecords } from '../../../src/classify/tls-client-hello.js';
import { oracleHello } from '../../integration/classify/oracle.js';
import { clientHelloMessage, clientHelloRecord, tlsRecords } from './handshake-builders.js';

describe('ClientHello parser', () => {
  it.each([
    ['SNI and ALPN', { serverName: 'a.example.com', alpn: ['h2', 'http/1.1'] }],
    ['SNI only', { serverName: 'b.example.com' }],
    ['ALPN only', { alpn: ['h3'] }],
    ['empty session id', { serverName: 'c.example.com', sessionId: Buffer.alloc(0) }],
    ['GREASE-like extension before SNI', { serverName: 'd.example.com', extra: [{ type: 0x0a0a, data: Buffer.alloc(0) }] }],
    ['long ALPN list', { serverName: 'e.example.com', alpn: Array.from({ length: 20 }, (_, i) => `proto-${i}`) }],
  ])('agrees with read-tls-client-hello: %s', async (_name, spec) => {
    const record = clientHelloRecord(spec);
    const ours = parseTlsClientHelloRecords(record);
    const oracle = await oracleHello(record);
    expect(ours).toEqual({ kind: 'ok', hello: { ...(oracle.serverName === undefined ? {} : { serverName: oracle.serverName }), ...(oracle.alpn === undefined ? {} : { alpn: oracle.alpn }) } });
  });

  it('takes the host_name entry even when another name type comes first', () => {
    const record = clientHelloRecord({ sniEntries: [{ type: 7, name: 'other' }, { type: 0, name: 'host.example.com' }] });
    expect(matchTls(record)).toEqual({ kind: 'matched', appProtocol: 'tls', host: 'host.example.com' });
  });

  it('a server_name list without host_name is missing_sni', () => {
    expect(matchTls(clientHelloRecord({ sniEntries: [{ type: 7, name: 'other' }] }))).toEqual({ kind: 'unknown', reason: 'missing_sni' });
  });

  // Upstream (classifier.go:612-619 @b1f245c2): a server_name list longer than its extension waits
  // for more bytes, which never fix it: unclassified once the client stops sending.
  it('a server_name list overrunning its extension needs more, and is unclassified when no more come', () => {
    const bad = tlsRecords(clientHelloMessage({ extra: [{ type: 0x0000, data: Buffer.from('0010', 'hex') }] }));
    expect(matchTls(bad)).toEqual({ kind: 'need-more' });
    expect(classifyTcp(bad, { final: true })).toEqual({ kind: 'unknown', reason: 'unclassified' });
  });

  it('a ClientHello spanning two records, split across reads, needs more until complete', () => {
    const records = tlsRecords(clientHelloMessage({ serverName: 'two.example.com' }), 100);
    for (const cut of [1, 5, 6, 104, 105, 106, records.length - 1]) {
      expect(parseTlsClientHelloRecords(records.subarray(0, cut)).kind).toBe('need-more');
    }
    expect(parseTlsClientHelloRecords(records)).toMatchObject({ kind: 'ok', hello: { serverName: 'two.example.com' } });
  });

  it('a non-handshake record inside the ClientHello is malformed', () => {
    const records = tlsRecords(clientHelloMessage({ serverName: 'two.example.com' }), 100);
    const tampered = Buffer.from(records);
    tampered[105] = 0x17; // second record claims application_data
    expect(parseTlsClientHelloRecords(tampered).kind).toBe('malformed');
  });

  it('a record length of zero or above 2^14+2048 is malformed', () => {
    expect(parseTlsClientHelloRecords(Buffer.from('16030100000100', 'hex')).kind).toBe('malformed');
    expect(parseTlsClientHelloRecords(Buffer.from('1603014801010000', 'hex')).kind).toBe('malformed');
  });

  it('a truncated body is malformed, never a throw', () => {
    const body = clientHelloMessage({ serverName: 'x.example.com' }).subarray(4);
    for (let n = 0; n < body.length; n++) expect(() => parseClientHelloBody(body.subarray(0, n))).not.toThrow();
    expect(parseClientHelloBody(body.subarray(0, 10)).kind).toBe('malformed');
  });
});

describe('HTTP host normalisation', () => {
  it.each([
    ['Example.COM', 'example.com'],
    ['example.com:8443', 'example.com'],
    ['[2001:DB8::1]:80', '2001:db8::1'],
    // Go's net.SplitHostPort fails on these, so upstream's normalizeHost (server.go:1116) leaves no host.
    ['[::1]', ''],
    ['2001:db8::1', ''],
    ['a:b:c', ''],
    ['example.com:', 'example.com'],
    ['xn--bcher-kva.example', 'xn--bcher-kva.example'],
    ['example.com.', 'example.com.'],
    ['  spaced.example.com  ', 'spaced.example.com'],
    [':80', ''],
  ])('%s → %s', (raw, host) => {
    expect(normalizeHost(raw)).toBe(host);
  });
});
