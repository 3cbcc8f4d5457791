import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerDnsQuery, SandboxResolver } from '../../../src/dns/resolver-server.js';
import { silentLogger } from '../../../src/log.js';
import { fuzz, mutateBytesMany, type Fuzz } from '../../helpers/fuzz.js';
import { until } from '../../helpers/socks-raw.js';

/**
 * Hostile input at the sandbox resolver: random and mutated queries (compression loops, huge counts,
 * long names, odd types and opcodes) over UDP and over TCP (length-prefixed, with lying prefixes,
 * several messages per segment, and drips). The pure core is the oracle: over UDP every datagram gets
 * exactly the answer `answerDnsQuery` gives (or none); over TCP the same, message by message, until
 * one that gets no answer closes the connection. Every connection ends within its timeouts.
 */

const records: Record<string, string[]> = {
  'api.internal.example.com': ['198.18.0.10', '2001:db8::10'],
  'fuzz.example.com': ['198.18.0.20'],
};
const lookup = (sandboxId: string, name: string): string[] | undefined => {
  if (name === 'explode.example.com') throw new Error('lookup failed');
  return sandboxId === 'sb-1' ? records[name] : undefined;
};
const ttlSeconds = 30;
const tcpIdleTimeoutMs = 400;
const maxTcpConnections = 16;
/** Scheduling slack on top of every time bound. */
const slackMs = 2_500;
/** Datagrams in flight at once (a socket buffer that overflows would drop some: UDP may). */
const udpBatch = 25;
/** No single message may take longer than this to answer (dns-packet is slow on some garbage). */
const perMessageBudgetMs = 50;

const names = ['api.internal.example.com', 'API.Internal.Example.COM.', 'fuzz.example.com', 'nowhere.example.com', 'explode.example.com', '', 'a'.repeat(63) + '.example.com', `${'b'.repeat(63)}.`.repeat(3) + 'c'.repeat(61)];
const types = ['A', 'AAAA', 'TXT', 'MX', 'CNAME', 'PTR', 'ANY', 'SRV', 'OPT', 'NS'] as const;

function validQuery(f: Fuzz): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id: f.int(0x10000),
    flags: f.chance(0.7) ? dnsPacket.RECURSION_DESIRED : f.int(0x10000) & ~0x8000,
    questions: [{ type: f.pick(types) as 'A', name: f.pick(names), class: 'IN' }],
    ...(f.chance(0.3) ? { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096, flags: 0, options: [] } as unknown as dnsPacket.Answer] } : {}),
  });
}

/** A 12-byte header with chosen counts, then `body`. */
function header(f: Fuzz, counts: [number, number, number, number], body: Buffer): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(f.int(0x10000), 0);
  h.writeUInt16BE(f.pick([0x0100, 0x0000, 0x7900, 0x8180, f.int(0x10000)]), 2);
  counts.forEach((c, i) => h.writeUInt16BE(c, 4 + i * 2));
  return Buffer.concat([h, body]);
}

function message(f: Fuzz, i: number): Buffer {
  switch (i % 8) {
    case 0:
      return validQuery(f);
    case 1:
    case 2:
      return mutateBytesMany(f, validQuery(f));
    case 3:
      return f.bytes(f.int(200));
    case 4:
      // A name that points at itself, or forward past the end.
      return header(f, [1, 0, 0, 0], Buffer.concat([Buffer.from(f.pick([[0xc0, 0x0c], [0xc0, 0xff], [0x01, 0x61, 0xc0, 0x0c], [0x3f]])), Buffer.from([0, 1, 0, 1])]));
    case 5:
      return header(f, [f.pick([0, 1, 2, 0xffff]), f.pick([0, 0xffff]), f.pick([0, 0xffff]), f.pick([0, 1, 2, 0xffff])], f.bytes(f.int(64)));
    case 6:
      return f.bytes(f.int(12));
    default:
      // Labels longer than 63 bytes and names longer than 255.
      return header(f, [1, 0, 0, 0], Buffer.concat([...Array.from({ length: f.between(1, 6) }, () => Buffer.concat([Buffer.from([f.pick([63, 64, 127, 191])]), Buffer.alloc(63, 0x61)])), Buffer.from([0, 0, 1, 0, 1])]));
  }
}

/** What the resolver must send back for one message (undefined: nothing). */
function oracle(msg: Buffer): Buffer | undefined {
  const out = answerDnsQuery(msg, { sandboxId: 'sb-1', lookup, ttlSeconds });
  return out.kind === 'answered' ? out.response : undefined;
}

const frame = (b: Buffer): Buffer => Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);

describe('answerDnsQuery (pure) on hostile input', () => {
  it('never throws, answers well-formed responses with the query id, and stays fast', async () => {
    const f = fuzz('dns pure', { seed: 0xd45, iterations: 4_000, budgetMs: 4_000 });
    let slowest = 0;
    await f.loop((i) => {
      const msg = message(f, i);
      const started = performance.now();
      const out = answerDnsQuery(msg, { sandboxId: f.chance(0.9) ? 'sb-1' : undefined, lookup, ttlSeconds });
      slowest = Math.max(slowest, performance.now() - started);
      if (out.kind === 'ignored') {
        expect(msg.length < 12 || (msg.readUInt16BE(2) & 0x8000) !== 0, f.where(msg.toString('hex'))).toBe(true);
        return;
      }
      expect(out.response.length, f.where(msg.toString('hex'))).toBeGreaterThanOrEqual(12);
      expect(out.response.readUInt16BE(0), f.where()).toBe(msg.readUInt16BE(0));
      expect(out.response.readUInt16BE(2) & 0x8000, f.where()).toBe(0x8000);
      expect(() => dnsPacket.decode(out.response), f.where(msg.toString('hex'))).not.toThrow();
    });
    expect(slowest).toBeLessThan(perMessageBudgetMs);
  });
});

describe('SandboxResolver on loopback sockets, under hostile input', () => {
  let udp: dgram.Socket;
  let tcp: net.Server;
  let resolver: SandboxResolver;
  let udpPort: number;
  let tcpPort: number;

  beforeAll(async () => {
    udp = dgram.createSocket('udp4');
    tcp = net.createServer();
    udp.bind(0, '127.0.0.1');
    tcp.listen(0, '127.0.0.1');
    await Promise.all([once(udp, 'listening'), once(tcp, 'listening')]);
    resolver = new SandboxResolver({ lookup, sandboxForAddress: (ip) => (ip === '127.0.0.1' ? 'sb-1' : undefined), logger: silentLogger(), ttlSeconds, tcpIdleTimeoutMs, maxTcpConnections });
    resolver.attachUdp(udp);
    resolver.attachTcp(tcp);
    udpPort = (udp.address() as net.AddressInfo).port;
    tcpPort = (tcp.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    await resolver?.close();
  });

  /** One valid query over TCP still gets its answer. */
  async function expectServesTcp(): Promise<void> {
    const socket = net.connect(tcpPort, '127.0.0.1');
    await once(socket, 'connect');
    const q = dnsPacket.encode({ type: 'query', id: 99, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'api.internal.example.com', class: 'IN' }] });
    socket.write(frame(q));
    const [got] = (await once(socket, 'data')) as [Buffer];
    expect(got.subarray(2)).toEqual(oracle(q));
    socket.destroy();
  }

  it('UDP: every datagram gets exactly the answer the pure core gives, or none', async () => {
    const f = fuzz('dns udp', { seed: 0x0d95, iterations: 600, budgetMs: 8_000 });
    const client = dgram.createSocket('udp4');
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
    const received: Buffer[] = [];
    client.on('message', (m: Buffer) => received.push(m));
    try {
      let batch: Buffer[] = [];
      const flush = async () => {
        const expected = batch.map(oracle).filter((r): r is Buffer => r !== undefined);
        received.length = 0;
        for (const m of batch) client.send(m, udpPort, '127.0.0.1');
        await until(() => (received.length >= expected.length ? true : undefined), slackMs).catch(() => undefined);
        // A little longer, so that an answer to a datagram that should get none would show up too.
        await new Promise((r) => setTimeout(r, 5));
        const where = f.where(`batch ${batch.map((b) => b.toString('hex').slice(0, 40)).join(' ')}`);
        expect(received.map((b) => b.toString('hex')).sort(), where).toEqual(expected.map((b) => b.toString('hex')).sort());
        batch = [];
      };
      await f.loop(async (i) => {
        batch.push(message(f, i));
        if (batch.length === udpBatch) await flush();
      });
      if (batch.length) await flush();
      // Still answers a good query.
      const q = dnsPacket.encode({ type: 'query', id: 7, questions: [{ type: 'A', name: 'fuzz.example.com', class: 'IN' }] });
      received.length = 0;
      client.send(q, udpPort, '127.0.0.1');
      await until(() => (received.length ? true : undefined), slackMs);
      expect(received[0]).toEqual(oracle(q));
    } finally {
      client.close();
    }
  });

  interface TcpCase {
    /** Bytes on the wire (frames, maybe a lying last prefix). */
    bytes: Buffer;
    /** Answers, in order, until a message gets none (the server then closes). */
    expected: Buffer;
    /** The connection is closed by the server right after the last answer (an unanswerable message). */
    closesAfterAnswers: boolean;
    halfClose: boolean;
  }

  function tcpCase(f: Fuzz, i: number): TcpCase {
    const frames: Buffer[] = [];
    const answers: Buffer[] = [];
    let closes = false;
    for (let n = f.between(1, 4); n > 0; n--) {
      const msg = message(f, i + n);
      frames.push(frame(msg));
      if (closes) continue;
      const answer = oracle(msg);
      if (answer === undefined) closes = true;
      else answers.push(frame(answer));
    }
    // Sometimes a last prefix that promises more than ever comes.
    if (f.chance(0.3)) frames.push(Buffer.concat([Buffer.from([f.int(256), f.int(256)]), f.bytes(f.int(20))]).subarray(0, f.between(1, 22)));
    return { bytes: Buffer.concat(frames), expected: Buffer.concat(answers), closesAfterAnswers: closes, halfClose: f.chance(0.5) };
  }

  it('TCP: answers message by message as the pure core does, and every connection ends within its timeout', async () => {
    const f = fuzz('dns tcp', { seed: 0x7c9, iterations: 120, budgetMs: 10_000 });
    const cases: TcpCase[] = [];
    await f.loop((i) => {
      cases.push(tcpCase(f, i));
    });
    // A few at a time, below the connection limit.
    for (let start = 0; start < cases.length; start += maxTcpConnections / 2) {
      await Promise.all(
        cases.slice(start, start + maxTcpConnections / 2).map(async (c, k) => {
          const where = `${f.where()} case ${start + k}: ${c.bytes.toString('hex').slice(0, 160)}`;
          const started = Date.now();
          const socket = net.connect(tcpPort, '127.0.0.1');
          const chunks: Buffer[] = [];
          socket.on('data', (d: Buffer) => chunks.push(d));
          socket.on('error', () => {});
          const closed = new Promise<void>((r) => socket.once('close', () => r()));
          await once(socket, 'connect');
          // Split anywhere: reassembly must not change the answers.
          const cut = f.int(c.bytes.length + 1);
          socket.write(c.bytes.subarray(0, cut));
          if (cut < c.bytes.length) socket.write(c.bytes.subarray(cut));
          if (c.halfClose) socket.end();
          const bound = tcpIdleTimeoutMs + slackMs;
          const ended = await Promise.race([closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), bound))]);
          socket.destroy();
          expect(ended, `${where}: still open after ${bound} ms`).toBe(true);
          expect(Date.now() - started, where).toBeLessThan(bound);
          expect(Buffer.concat(chunks).toString('hex'), where).toBe(c.expected.toString('hex'));
        }),
      );
    }
    await expectServesTcp();
  });

  it('TCP: a client that drips a message never holds the connection past the timeout, and the limit holds', async () => {
    // A 2-byte prefix promising 300 bytes, then one byte at a time, each well inside the idle timeout.
    const socket = net.connect(tcpPort, '127.0.0.1');
    socket.on('error', () => {});
    await once(socket, 'connect');
    const started = Date.now();
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.write(Buffer.from([0x01, 0x2c]));
    const drip = setInterval(() => socket.write(Buffer.from([0x41])), tcpIdleTimeoutMs / 4);
    const bound = tcpIdleTimeoutMs * 3 + slackMs;
    const ended = await Promise.race([closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), bound))]);
    clearInterval(drip);
    socket.destroy();
    expect(ended, `a drip-fed message held the connection for ${Date.now() - started} ms`).toBe(true);

    // More connections than the limit: the extra ones are closed at once, the others stay usable.
    const sockets = await Promise.all(
      Array.from({ length: maxTcpConnections + 4 }, async () => {
        const s = net.connect(tcpPort, '127.0.0.1');
        s.on('error', () => {});
        const gone = new Promise<boolean>((r) => s.once('close', () => r(true)));
        await once(s, 'connect');
        return { s, gone };
      }),
    );
    const early = await Promise.all(sockets.map(({ gone }) => Promise.race([gone, new Promise<boolean>((r) => setTimeout(() => r(false), tcpIdleTimeoutMs / 2))])));
    expect(early.filter(Boolean).length).toBeGreaterThanOrEqual(4);
    for (const { s } of sockets) s.destroy();
    await until(() => (resolver['connections'].size === 0 ? true : undefined), slackMs);
    await expectServesTcp();
  });
});
