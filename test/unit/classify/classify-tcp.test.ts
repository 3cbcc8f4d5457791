import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { classifyTcp, tcpMatchers } from '../../../src/classify/classify-tcp.js';
import { matchRedis } from '../../../src/classify/redis.js';
import { matchSocks5 } from '../../../src/classify/socks5.js';
import { matchMongodb } from '../../../src/classify/mongodb.js';
import { matchDnsTcp } from '../../../src/classify/dns-tcp.js';
import { matchSsh } from '../../../src/classify/ssh.js';
import { matchAmqp } from '../../../src/classify/amqp.js';
import { matchMqtt } from '../../../src/classify/mqtt.js';
import type { TcpClassification } from '../../../src/classify/protocol-match.js';
import { clientHelloMessage, clientHelloRecord, tlsRecords } from './handshake-builders.js';

const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const known = (appProtocol: string, host?: string, alpn?: string[]): TcpClassification =>
  ({ kind: 'known', appProtocol, ...(host === undefined ? {} : { host }), ...(alpn === undefined ? {} : { alpn }) }) as TcpClassification;
const unknown = (reason: string): TcpClassification => ({ kind: 'unknown', reason }) as TcpClassification;
const needMore: TcpClassification = { kind: 'need-more' };

const dnsQuery = (name: string, extra: Partial<dnsPacket.Packet> = {}): Buffer =>
  dnsPacket.streamEncode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }], ...extra });

/** MQTT CONNECT: fixed header, remaining length, protocol name, level, flags, keepalive, client id. */
const mqttConnect = (name: string, level: number): Buffer => {
  const variable = Buffer.concat([Buffer.from([0, name.length]), ascii(name), Buffer.from([level, 0x02, 0, 60, 0, 1]), ascii('c')]);
  return Buffer.concat([Buffer.from([0x10, variable.length]), variable]);
};
const mongoHeader = (opCode: number, length = 64): Buffer => {
  const b = Buffer.alloc(length);
  b.writeInt32LE(length, 0);
  b.writeInt32LE(1, 4);
  b.writeInt32LE(0, 8);
  b.writeInt32LE(opCode, 12);
  return b;
};

const cases: [string, Buffer, TcpClassification][] = [
  // http
  ['http Host header, port stripped, lowercased', ascii('GET / HTTP/1.1\r\nHost: Example.COM:8080\r\n\r\n'), known('http', 'example.com')],
  ['http LF-only head', ascii('POST /x HTTP/1.1\nUser-Agent: t\nhost: a.example.com\n\n'), known('http', 'a.example.com')],
  ['http absolute-URI host wins over Host', ascii('GET http://Abs.Example.com:81/x HTTP/1.1\r\nHost: other.example.com\r\n\r\n'), known('http', 'abs.example.com')],
  ['http absolute-URI with userinfo', ascii('GET http://user:pw@proxy.example.com/ HTTP/1.1\r\n\r\n'), known('http', 'proxy.example.com')],
  ['http CONNECT authority', ascii('CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n'), known('http', 'api.example.com')],
  ['http bracketed IPv6 with port', ascii('GET / HTTP/1.1\r\nHost: [2001:DB8::1]:8080\r\n\r\n'), known('http', '2001:db8::1')],
  // SplitHostPort("[::1]") fails: upstream's normalizeHost (server.go:1116 @b1f245c2) leaves no host.
  ['http bracketed IPv6 without port is missing_host', ascii('GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n'), unknown('missing_host')],
  ['http bare IPv6 Host is missing_host', ascii('GET / HTTP/1.1\r\nHost: ::1\r\n\r\n'), unknown('missing_host')],
  ['http IPv4 literal', ascii('GET / HTTP/1.1\r\nHost: 198.18.0.10:80\r\n\r\n'), known('http', '198.18.0.10')],
  ['http trailing dot kept', ascii('GET / HTTP/1.1\r\nHost: example.com.\r\n\r\n'), known('http', 'example.com.')],
  ['http body bytes after the head ignored', ascii('PUT /k HTTP/1.1\r\nHost: s3.example.com\r\nContent-Length: 3\r\n\r\nabc'), known('http', 's3.example.com')],
  ['http without Host is missing_host', ascii('GET / HTTP/1.0\r\nAccept: */*\r\n\r\n'), unknown('missing_host')],
  ['http with empty Host is missing_host', ascii('GET / HTTP/1.1\r\nHost:   \r\n\r\n'), unknown('missing_host')],
  ['http/2 prior knowledge preface is missing_host', ascii('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), unknown('missing_host')],
  ['http head not complete yet', ascii('GET / HTTP/1.1\r\nHost: example.com\r\n'), needMore],
  ['http method token only', ascii('GE'), needMore],
  ['lowercase method is not http', ascii('get / HTTP/1.1\r\nHost: example.com\r\n\r\n'), unknown('unclassified')],
  ['uppercase token without HTTP version is not http', ascii('HELLO world\r\n\r\n'), unknown('unclassified')],
  ['malformed header line is not http', ascii('GET / HTTP/1.1\r\nnot a header\r\n\r\n'), unknown('unclassified')],
  // tls
  ['tls SNI lowercased with ALPN', clientHelloRecord({ serverName: 'API.Example.com', alpn: ['h2', 'http/1.1'] }), known('tls', 'api.example.com', ['h2', 'http/1.1'])],
  ['tls without ALPN has no alpn', clientHelloRecord({ serverName: 'db.example.com' }), known('tls', 'db.example.com')],
  // Upstream parses the first record only (classifier.go:510-516 @b1f245c2): a first record of 3 bytes
  // cannot hold a ClientHello (recordEnd <= 9): not TLS, unclassified.
  ['tls ClientHello split across 3-byte records is unclassified', tlsRecords(clientHelloMessage({ serverName: 'split.example.com' }), 3), unknown('unclassified')],
  ['tls without SNI is missing_sni', clientHelloRecord({ alpn: ['h2'] }), unknown('missing_sni')],
  ['tls with an empty SNI name is missing_sni', clientHelloRecord({ sniEntries: [{ type: 0, name: '' }] }), unknown('missing_sni')],
  ['tls without extensions is missing_sni', clientHelloRecord({ noExtensions: true }), unknown('missing_sni')],
  ['tls truncated record', clientHelloRecord({ serverName: 'x.example.com' }).subarray(0, 40), needMore],
  ['tls record header only', hex('1603010200'), needMore],
  ['tls record that is not a ClientHello', hex('160303000f 020000 0b 0303 0000000000000000000000'), unknown('unclassified')],
  // amqp
  ['amqp 0-9-1 protocol header', ascii('AMQP\x00\x00\x09\x01'), known('amqp')],
  ['amqp 1.0 protocol header', ascii('AMQP\x03\x01\x00\x00'), known('amqp')],
  ['amqp short header', ascii('AMQP\x00'), needMore],
  // dns over tcp
  ['dns-tcp query name lowercased', dnsQuery('Svc.Example.COM'), known('dns', 'svc.example.com')],
  ['dns-tcp response is not a query', dnsQuery('svc.example.com', { type: 'response', flags: 0 }), unknown('unclassified')],
  ['dns-tcp with two questions', dnsPacket.streamEncode({ type: 'query', id: 1, questions: [{ type: 'A', name: 'a.example.com' }, { type: 'A', name: 'b.example.com' }] }), unknown('unclassified')],
  ['dns-tcp with an answer', dnsQuery('a.example.com', { answers: [{ type: 'A', name: 'a.example.com', data: '198.18.0.1' }] }), unknown('unclassified')],
  ['dns-tcp truncated message', dnsQuery('svc.example.com').subarray(0, 20), needMore],
  // mqtt
  ['mqtt 3.1.1 (MQTT level 4)', mqttConnect('MQTT', 4), known('mqtt')],
  ['mqtt 5 (MQTT level 5)', mqttConnect('MQTT', 5), known('mqtt')],
  ['mqtt 3.1 (MQIsdp level 3)', mqttConnect('MQIsdp', 3), known('mqtt')],
  ['mqtt MQTT with level 3 is not mqtt', mqttConnect('MQTT', 3), unknown('unclassified')],
  ['mqtt CONNECT cut inside the protocol name', mqttConnect('MQTT', 4).subarray(0, 5), needMore],
  // mongodb
  ['mongodb OP_MSG', mongoHeader(2013), known('mongodb')],
  ['mongodb OP_QUERY', mongoHeader(2004), known('mongodb')],
  ['mongodb other opcode', mongoHeader(2012), unknown('unclassified')],
  ['mongodb header cut short', mongoHeader(2013).subarray(0, 10), needMore],
  // redis
  ['redis array of bulk strings', ascii('*1\r\n$4\r\nPING\r\n'), known('redis')],
  ['redis nested array', ascii('*2\r\n*1\r\n$1\r\na\r\n'), known('redis')],
  ['redis array of integers is not a command', ascii('*1\r\n:1\r\n'), unknown('unclassified')],
  ['redis array header only', ascii('*3\r\n'), needMore],
  // socks5
  ['socks5 greeting, one method', hex('050100'), known('socks5')],
  ['socks5 greeting, two methods', hex('05020002'), known('socks5')],
  ['socks5 greeting missing a method', hex('050200'), needMore],
  // ssh
  ['ssh banner CRLF', ascii('SSH-2.0-OpenSSH_9.6\r\n'), known('ssh')],
  ['ssh banner LF', ascii('SSH-1.99-x\n'), known('ssh')],
  ['ssh banner without newline yet', ascii('SSH-2.0-OpenSSH'), needMore],
  // nothing
  ['postgres SSLRequest is unclassified', hex('0000000804d2162f'), unknown('unclassified')],
  ['random binary is unclassified', hex('deadbeef'.repeat(8)), unknown('unclassified')],
  ['no bytes yet', Buffer.alloc(0), needMore],
];

describe('classifyTcp golden cases', () => {
  it.each(cases)('%s', (_name, buf, expected) => {
    expect(classifyTcp(buf)).toEqual(expected);
  });

  it('has at least one case for every protocol matcher', () => {
    const protocols = new Set(cases.map(([, , r]) => (r.kind === 'known' ? r.appProtocol : '')));
    for (const p of ['http', 'tls', 'amqp', 'dns', 'mqtt', 'mongodb', 'redis', 'socks5', 'ssh']) expect(protocols).toContain(p);
    expect(tcpMatchers.map((m) => m.name)).toEqual(['http', 'tls', 'amqp', 'dns-tcp', 'mqtt', 'mongodb', 'redis', 'socks5', 'ssh']);
  });
});

describe('classifyTcp limits and finality', () => {
  const longHead = ascii(`GET / HTTP/1.1\r\nHost: example.com\r\n${'X-Pad: aaaaaaaaaaaaaaaaaaaa\r\n'.repeat(100)}`);

  it('waits while under the header limit', () => {
    expect(classifyTcp(longHead.subarray(0, 1000), { headerLimit: 4096 })).toEqual(needMore);
  });

  it('gives header_limit_exceeded when a classifier still waits at the limit', () => {
    expect(classifyTcp(longHead, { headerLimit: 1024 })).toEqual(unknown('header_limit_exceeded'));
  });

  it('only looks at the first headerLimit bytes', () => {
    const head = ascii('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n');
    expect(classifyTcp(head, { headerLimit: head.length - 1 })).toEqual(unknown('header_limit_exceeded'));
    expect(classifyTcp(head, { headerLimit: head.length })).toEqual(known('http', 'example.com'));
  });

  it('the default limit is 64 KiB', () => {
    const big = Buffer.concat([ascii('GET / HTTP/1.1\r\n'), Buffer.alloc(65_536, 0x61)]);
    expect(classifyTcp(big)).toEqual(unknown('header_limit_exceeded'));
    expect(classifyTcp(big.subarray(0, 65_535))).toEqual(needMore);
  });

  it('final: a classifier still waiting counts as no-match', () => {
    expect(classifyTcp(ascii('GET / HTTP/1.1\r\nHost: x'), { final: true })).toEqual(unknown('unclassified'));
    expect(classifyTcp(Buffer.alloc(0), { final: true })).toEqual(unknown('unclassified'));
  });

  it('a later matcher decides while an earlier one still waits (socks5 under mongodb)', () => {
    // 3 bytes are too few for a MongoDB header, but a complete SOCKS5 greeting.
    expect(classifyTcp(hex('050100'))).toEqual(known('socks5'));
  });
});

describe('matchers on short inputs decide no-match as early as they can', () => {
  it.each([
    ['redis: inline command', matchRedis, ascii('*\r\n$4')],
    ['redis: negative count', matchRedis, ascii('*-1\r\n')],
    ['redis: too many digits', matchRedis, ascii('*12345678901\r\n$')],
    ['socks5: zero methods', matchSocks5, hex('0500')],
    ['socks5: version 4', matchSocks5, hex('040100')],
    ['mongodb: message length below a header', matchMongodb, hex('08000000')],
    ['mongodb: message length above 48 MB', matchMongodb, hex('ffffff7f')],
    ['dns-tcp: length below a header', matchDnsTcp, hex('0005')],
    ['dns-tcp: QR bit set', matchDnsTcp, hex('001d 0007 8180')],
    ['ssh: another banner', matchSsh, ascii('SSX')],
    ['amqp: another magic', matchAmqp, ascii('AMQX')],
    ['mqtt: remaining length longer than 4 bytes', matchMqtt, hex('10 ffffffff01')],
    ['mqtt: another protocol name', matchMqtt, ascii('\x10\x10\x00\x04MQTX')],
  ] as const)('%s', (_name, matcher, buf) => {
    expect(matcher(buf)).toEqual({ kind: 'no-match' });
  });
});
