import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { answerDnsQuery, DnsRcode, SandboxResolver } from '../../../src/dns/resolver-server.js';
import { silentLogger } from '../../../src/log.js';

/** The sandbox resolver: pure answers, then the UDP/TCP shell on loopback sockets. */

const records: Record<string, string[]> = { 'api.internal.example.com': ['198.18.0.10', '2001:db8::10'] };
const lookup = (sandboxId: string, name: string): string[] | undefined => (sandboxId === 'sb-1' ? records[name] : undefined);
const query = (name: string, type: 'A' | 'AAAA' | 'TXT' = 'A', id = 4242): Buffer =>
  dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] });

/** dns-packet's decoded shape, with the fields its typings leave out (rcode) or hide behind a union. */
interface DecodedResponse {
  id?: number;
  rcode: string;
  flag_rd: boolean;
  answers?: Array<{ type: string; data: unknown; ttl?: number }>;
}
const decodeResponse = (b: Buffer): DecodedResponse => dnsPacket.decode(b) as unknown as DecodedResponse;

describe('answerDnsQuery', () => {
  const ctx = { sandboxId: 'sb-1', lookup, ttlSeconds: 30 };

  it('answers A and AAAA from the lookup, case-insensitively, with the query id', () => {
    const out = answerDnsQuery(query('API.internal.example.com.'), ctx);
    expect(out.kind).toBe('answered');
    if (out.kind !== 'answered') return;
    const r = decodeResponse(out.response);
    expect(r.id).toBe(4242);
    expect(r.rcode).toBe('NOERROR');
    expect(r.flag_rd).toBe(true);
    expect(r.answers?.map((a) => [a.type, a.data, a.ttl])).toEqual([['A', '198.18.0.10', 30]]);
    const v6 = decodeResponse((answerDnsQuery(query('api.internal.example.com', 'AAAA'), ctx) as { response: Buffer }).response);
    expect(v6.answers?.map((a) => a.data)).toEqual(['2001:db8::10']);
  });

  it('NXDOMAIN for unknown names, NODATA for other types, REFUSED for unknown sandboxes', () => {
    expect(decodeResponse((answerDnsQuery(query('db.corp.example.com'), ctx) as { response: Buffer }).response).rcode).toBe('NXDOMAIN');
    const txt = decodeResponse((answerDnsQuery(query('api.internal.example.com', 'TXT'), ctx) as { response: Buffer }).response);
    expect([txt.rcode, txt.answers?.length]).toEqual(['NOERROR', 0]);
    const refused = answerDnsQuery(query('api.internal.example.com'), { ...ctx, sandboxId: undefined });
    expect(refused.kind === 'answered' && refused.rcode).toBe(DnsRcode.Refused);
  });

  it('never throws on garbage: FORMERR when there is a header, nothing otherwise', () => {
    expect(answerDnsQuery(Buffer.from([1, 2, 3]), ctx)).toEqual({ kind: 'ignored' });
    const bad = Buffer.concat([query('x.example.com').subarray(0, 12), Buffer.from([0xc0, 0xff])]);
    const out = answerDnsQuery(bad, ctx);
    expect(out.kind === 'answered' && out.rcode).toBe(DnsRcode.FormErr);
    const base = query('api.internal.example.com');
    for (let i = 0; i < 1000; i++) {
      const mutated = i % 2 === 0 ? randomBytes(i % 300) : Buffer.from(base);
      if (i % 2 === 1) for (let k = 0; k < 1 + (i % 5); k++) mutated[(i * 7 + k * 13) % mutated.length] = (i * 31 + k) & 0xff;
      expect(() => answerDnsQuery(mutated, ctx)).not.toThrow();
    }
  });
});

describe('SandboxResolver on sockets', () => {
  let udp: dgram.Socket;
  let tcp: net.Server;
  let resolver: SandboxResolver;
  const answers: string[] = [];

  beforeEach(async () => {
    answers.length = 0;
    udp = dgram.createSocket('udp4');
    tcp = net.createServer();
    udp.bind(0, '127.0.0.1');
    tcp.listen(0, '127.0.0.1');
    await Promise.all([once(udp, 'listening'), once(tcp, 'listening')]);
    resolver = new SandboxResolver({
      lookup,
      onAnswer: (sandboxId, name, addresses, ttl) => answers.push(`${sandboxId} ${name} ${addresses.join(',')} ${ttl}`),
      sandboxForAddress: (ip) => (ip === '127.0.0.1' ? 'sb-1' : undefined),
      logger: silentLogger(),
    });
    resolver.attachUdp(udp);
    resolver.attachTcp(tcp);
  });

  afterEach(async () => {
    await resolver.close();
  });

  it('answers over UDP, survives garbage, and reports answers', async () => {
    const client = dgram.createSocket('udp4');
    try {
      const port = (udp.address() as net.AddressInfo).port;
      client.send(randomBytes(7), port, '127.0.0.1'); // too short: dropped
      client.send(Buffer.alloc(40, 0xff), port, '127.0.0.1'); // QR bit set (a response): dropped
      const broken = Buffer.concat([query('x.example.com', 'A', 7).subarray(0, 12), Buffer.from([0x3f, 0x61])]);
      client.send(broken, port, '127.0.0.1'); // a header, then a truncated name: FORMERR
      const [formErr] = (await once(client, 'message')) as [Buffer];
      expect([formErr.readUInt16BE(0), formErr.readUInt16BE(2) & 0x000f]).toEqual([7, DnsRcode.FormErr]);
      client.send(query('api.internal.example.com'), port, '127.0.0.1');
      const [msg] = (await once(client, 'message')) as [Buffer];
      const r = decodeResponse(msg);
      expect([r.id, r.answers?.[0]?.data]).toEqual([4242, '198.18.0.10']);
      expect(answers).toEqual(['sb-1 api.internal.example.com 198.18.0.10 30']);
    } finally {
      client.close();
    }
  });

  it('answers over TCP, two queries in one segment and one split across segments', async () => {
    const socket = net.connect((tcp.address() as net.AddressInfo).port, '127.0.0.1');
    try {
      await once(socket, 'connect');
      const frame = (b: Buffer): Buffer => Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
      const q1 = frame(query('api.internal.example.com', 'A', 1));
      const q2 = frame(query('nope.example.com', 'A', 2));
      const q3 = frame(query('api.internal.example.com', 'AAAA', 3));
      socket.write(Buffer.concat([q1, q2, q3.subarray(0, 5)]));
      socket.write(q3.subarray(5));
      let buf = Buffer.alloc(0);
      const got: Array<[number | undefined, string | undefined]> = [];
      for (let i = 0; i < 10 && got.length < 3; i++) {
        const [chunk] = (await once(socket, 'data')) as [Buffer];
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const len = buf.readUInt16BE(0);
          const r = decodeResponse(buf.subarray(2, 2 + len));
          got.push([r.id, r.rcode]);
          buf = buf.subarray(2 + len);
        }
      }
      expect(got).toEqual([
        [1, 'NOERROR'],
        [2, 'NXDOMAIN'],
        [3, 'NOERROR'],
      ]);
    } finally {
      socket.destroy();
    }
  });
});
