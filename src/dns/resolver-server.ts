import type dgram from 'node:dgram';
import { isIPv4, isIPv6, type Server, type Socket } from 'node:net';
import dnsPacket from 'dns-packet';
import type { Logger } from '../log.js';
import { DnsHeader, DnsRcode } from './dns-header.js';

export { DnsRcode } from './dns-header.js';

/**
 * The sandbox resolver: what a transparent sandbox's resolv.conf points at. It answers from an
 * injected lookup (the platform DNS view plus the sandbox's hosts entries), NXDOMAIN otherwise, and
 * never forwards anything anywhere. Positive answers are reported to `onAnswer` (the snoop cache).
 *
 * `answerDnsQuery` is the pure core (bytes in, bytes out); `SandboxResolver` is the socket shell for
 * a UDP socket and a TCP server that someone else bound (the namespace backend binds them inside the
 * gateway namespace).
 */

const { length: dnsHeaderLength, qrResponseBit, opcodeMask, rdBit, raBit, rcodeMask } = DnsHeader;
const tcpLengthPrefix = 2;
const maxTcpMessage = 65535;

export type DnsLookup = (sandboxId: string, name: string) => string[] | undefined;
/** A lookup that may have to wait (the host's resolver, with platform DNS passthrough). */
export type AsyncDnsLookup = (sandboxId: string, name: string) => string[] | undefined | Promise<string[] | undefined>;
export type DnsAnswerHook = (sandboxId: string, name: string, addresses: string[], ttlSeconds: number) => void;

export interface DnsQueryContext<L extends AsyncDnsLookup = DnsLookup> {
  sandboxId: string | undefined;
  lookup: L;
  ttlSeconds: number;
}

export type DnsQueryOutcome =
  | { kind: 'ignored' } // too short to answer, or itself a response
  | { kind: 'answered'; response: Buffer; rcode: DnsRcode; name?: string; addresses?: string[] };

/**
 * Answers one DNS message. Never throws: garbage gets FORMERR when it has a header, else nothing. With
 * a lookup that returns a promise for a name, the outcome for that name is a promise too.
 */
export function answerDnsQuery(query: Buffer, context: DnsQueryContext): DnsQueryOutcome;
export function answerDnsQuery(query: Buffer, context: DnsQueryContext<AsyncDnsLookup>): DnsQueryOutcome | Promise<DnsQueryOutcome>;
export function answerDnsQuery(query: Buffer, { sandboxId, lookup, ttlSeconds }: DnsQueryContext<AsyncDnsLookup>): DnsQueryOutcome | Promise<DnsQueryOutcome> {
  if (query.length < dnsHeaderLength) return { kind: 'ignored' };
  const id = query.readUInt16BE(0);
  const flags = query.readUInt16BE(2);
  if ((flags & qrResponseBit) !== 0) return { kind: 'ignored' };
  const headerOnly = (rcode: DnsRcode): DnsQueryOutcome => ({ kind: 'answered', rcode, response: headerResponse(id, flags, rcode) });
  if ((flags & opcodeMask) !== 0) return headerOnly(DnsRcode.NotImp);

  // A query has one question, no answers or authority, and at most one additional (EDNS OPT).
  // Checked before decoding: dns-packet spends up to ~100 ms on random bytes with huge counts.
  if (query.readUInt16BE(4) !== 1 || query.readUInt16BE(6) !== 0 || query.readUInt16BE(8) !== 0 || query.readUInt16BE(10) > 1) return headerOnly(DnsRcode.FormErr);

  let decoded: dnsPacket.DecodedPacket;
  try {
    decoded = dnsPacket.decode(query);
  } catch {
    return headerOnly(DnsRcode.FormErr);
  }
  const question = decoded.questions?.[0];
  if (!question || decoded.questions!.length !== 1) return headerOnly(DnsRcode.FormErr);
  // The answer repeats the question as dns-packet re-encodes it; a name whose labels hold bytes that do
  // not survive that (invalid UTF-8, a dot inside a label) would come back malformed, so it is refused.
  if (!questionNameRoundTrips(query, question)) return headerOnly(DnsRcode.FormErr);
  const reply = (rcode: DnsRcode, answers: dnsPacket.Answer[] = []): Buffer =>
    dnsPacket.encode({
      type: 'response',
      id,
      flags: (flags & rdBit) | raBit | rcode,
      questions: [question],
      answers,
    });
  if (sandboxId === undefined) return { kind: 'answered', rcode: DnsRcode.Refused, response: reply(DnsRcode.Refused) };

  const name = question.name.toLowerCase().replace(/\.$/, '');
  const servFail = (): DnsQueryOutcome => ({ kind: 'answered', rcode: DnsRcode.ServFail, response: reply(DnsRcode.ServFail), name });
  const answerWith = (addresses: string[] | undefined): DnsQueryOutcome => {
    if (addresses === undefined || addresses.length === 0) return { kind: 'answered', rcode: DnsRcode.NxDomain, response: reply(DnsRcode.NxDomain), name };

    // The name exists: A/AAAA get the matching addresses, other types an empty NOERROR (NODATA).
    const family = question.type === 'A' ? isIPv4 : question.type === 'AAAA' ? isIPv6 : undefined;
    const matching = family ? addresses.filter((a) => family(a)) : [];
    const answers: dnsPacket.Answer[] = matching.map((data) => ({ type: question.type as 'A' | 'AAAA', name: question.name, ttl: ttlSeconds, class: 'IN', data }));
    return { kind: 'answered', rcode: DnsRcode.NoError, response: reply(DnsRcode.NoError, answers), name, addresses: matching };
  };
  let found: ReturnType<AsyncDnsLookup>;
  try {
    found = lookup(sandboxId, name);
  } catch {
    return servFail();
  }
  if (found instanceof Promise) return found.then((addresses) => answerWith(addresses), servFail);
  return answerWith(found);
}

/** Label length bytes with either of the top bits set are pointers or extended label types (RFC 6891). */
const labelTypeMask = 0xc0;

/** True when the question's name, re-encoded, is byte for byte the name the query carried. */
function questionNameRoundTrips(query: Buffer, question: dnsPacket.Question): boolean {
  let end = dnsHeaderLength;
  for (;;) {
    const length = query[end];
    if (length === undefined || (length & labelTypeMask) !== 0) return false;
    end += 1 + length;
    if (length === 0) break;
  }
  const raw = query.subarray(dnsHeaderLength, end);
  const reencoded = dnsPacket.encode({ type: 'query', id: 0, questions: [question] }).subarray(dnsHeaderLength, dnsHeaderLength + raw.length);
  return reencoded.equals(raw);
}

/** A response carrying only the header (no question), for messages that could not be decoded. */
function headerResponse(id: number, queryFlags: number, rcode: DnsRcode): Buffer {
  const b = Buffer.alloc(dnsHeaderLength);
  b.writeUInt16BE(id, 0);
  b.writeUInt16BE(qrResponseBit | (queryFlags & (opcodeMask | rdBit)) | raBit | (rcode & rcodeMask), 2);
  return b;
}

export interface SandboxResolverOptions {
  lookup: AsyncDnsLookup;
  onAnswer?: DnsAnswerHook;
  /** Which sandbox a query came from, by its source address. */
  sandboxForAddress: (ip: string) => string | undefined;
  logger: Logger;
  ttlSeconds?: number;
  /** TCP connections idle longer than this are closed. */
  tcpIdleTimeoutMs?: number;
  /**
   * A message that has begun must be complete within this (default: the idle timeout), so that a client
   * dripping bytes slower than a message but faster than the idle timeout cannot hold a connection.
   */
  tcpMessageTimeoutMs?: number;
  /** TCP connections open at once, all sandboxes together (default 256). */
  maxTcpConnections?: number;
  /**
   * TCP connections one sandbox (or one unknown source address) may hold at once (default 16), so no
   * sandbox can take the shared ones from the others; a connection over it is closed at once.
   */
  maxTcpConnectionsPerSandbox?: number;
}

/** Serves `answerDnsQuery` on a UDP socket and a TCP server bound elsewhere. */
export class SandboxResolver {
  private readonly connections = new Set<Socket>();
  /** Open TCP connections per sandbox id (or `address:<ip>` for a source that is no sandbox's). */
  private readonly connectionsBySource = new Map<string, number>();
  private udp: dgram.Socket | undefined;
  private tcp: Server | undefined;
  private readonly opts: Required<Omit<SandboxResolverOptions, 'onAnswer'>> & Pick<SandboxResolverOptions, 'onAnswer'>;

  constructor({ lookup, onAnswer, sandboxForAddress, logger, ttlSeconds = 30, tcpIdleTimeoutMs = 10_000, tcpMessageTimeoutMs = tcpIdleTimeoutMs, maxTcpConnections = 256, maxTcpConnectionsPerSandbox = 16 }: SandboxResolverOptions) {
    this.opts = { lookup, onAnswer, sandboxForAddress, logger, ttlSeconds, tcpIdleTimeoutMs, tcpMessageTimeoutMs, maxTcpConnections, maxTcpConnectionsPerSandbox };
  }

  attachUdp(socket: dgram.Socket): void {
    this.udp = socket;
    socket.on('error', (err) => this.opts.logger.warn({ err: err.message }, 'sandbox resolver UDP socket error'));
    socket.on('message', (msg, rinfo) => {
      const send = (response: Buffer | undefined) => {
        if (!response || this.udp !== socket) return; // closed while the host's resolver was asked
        socket.send(response, rinfo.port, rinfo.address, () => undefined);
      };
      const response = this.handle(msg, rinfo.address);
      if (response instanceof Promise) void response.then(send);
      else send(response);
    });
  }

  attachTcp(server: Server): void {
    this.tcp = server;
    server.on('error', (err) => this.opts.logger.warn({ err: err.message }, 'sandbox resolver TCP server error'));
    server.on('connection', (socket) => this.serveTcp(socket));
  }

  /** Both sockets are bound and listening (the `dns` component of `/_emulator/health`). */
  healthy(): boolean {
    if (!this.udp || !this.tcp?.listening) return false;
    try {
      this.udp.address();
      return true;
    } catch {
      return false; // not bound, or closed
    }
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.destroy();
    this.connections.clear();
    this.connectionsBySource.clear();
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = undefined;
    this.tcp = undefined;
    await Promise.all([
      udp ? new Promise<void>((resolve) => { try { udp.close(() => resolve()); } catch { resolve(); } }) : undefined,
      tcp ? new Promise<void>((resolve) => tcp.close(() => resolve())) : undefined,
    ]);
  }

  private handle(msg: Buffer, source: string): Buffer | undefined | Promise<Buffer | undefined> {
    const sandboxId = this.opts.sandboxForAddress(normalizeAddress(source));
    const outcome = answerDnsQuery(msg, { sandboxId, lookup: this.opts.lookup, ttlSeconds: this.opts.ttlSeconds });
    return outcome instanceof Promise ? outcome.then((o) => this.answered(sandboxId, o)) : this.answered(sandboxId, outcome);
  }

  private answered(sandboxId: string | undefined, outcome: DnsQueryOutcome): Buffer | undefined {
    if (outcome.kind === 'ignored') return undefined;
    this.opts.logger.debug({ sandboxId, name: outcome.name, rcode: outcome.rcode }, 'sandbox DNS query');
    if (sandboxId !== undefined && outcome.name !== undefined && outcome.addresses && outcome.addresses.length > 0) {
      try {
        this.opts.onAnswer?.(sandboxId, outcome.name, outcome.addresses, this.opts.ttlSeconds);
      } catch (err) {
        this.opts.logger.warn({ err: (err as Error).message }, 'DNS answer hook failed');
      }
    }
    return outcome.response;
  }

  private serveTcp(socket: Socket): void {
    const address = normalizeAddress(socket.remoteAddress ?? '');
    const source = this.opts.sandboxForAddress(address) ?? `address:${address}`;
    const held = this.connectionsBySource.get(source) ?? 0;
    if (this.connections.size >= this.opts.maxTcpConnections || held >= this.opts.maxTcpConnectionsPerSandbox) {
      if (held >= this.opts.maxTcpConnectionsPerSandbox) this.opts.logger.debug({ source }, 'sandbox resolver: per-sandbox TCP connection cap reached');
      socket.destroy();
      return;
    }
    this.connections.add(socket);
    this.connectionsBySource.set(source, held + 1);
    socket.setTimeout(this.opts.tcpIdleTimeoutMs, () => socket.destroy());
    // Started when a message begins, restarted when one completes, cleared when nothing is pending.
    let messageTimer: NodeJS.Timeout | undefined;
    const stopMessageTimer = () => {
      clearTimeout(messageTimer);
      messageTimer = undefined;
    };
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      stopMessageTimer();
      if (!this.connections.delete(socket)) return; // closed by close(), which forgot every count
      const left = (this.connectionsBySource.get(source) ?? 1) - 1;
      if (left > 0) this.connectionsBySource.set(source, left);
      else this.connectionsBySource.delete(source);
    });
    let buffered: Buffer = Buffer.alloc(0);
    const respond = (response: Buffer) => {
      const prefix = Buffer.alloc(tcpLengthPrefix);
      prefix.writeUInt16BE(Math.min(response.length, maxTcpMessage));
      socket.write(Buffer.concat([prefix, response]));
    };
    // Answers still waiting for the host's resolver: later answers go out after them, in order.
    let queue: Promise<void> | undefined;
    const enqueue = (response: Buffer | undefined | Promise<Buffer | undefined>) => {
      const next = (queue ?? Promise.resolve())
        .then(() => response)
        .then((r) => {
          if (socket.destroyed) return;
          if (r) respond(r);
          else socket.destroy();
        });
      queue = next;
      void next.then(() => {
        if (queue === next) queue = undefined;
      });
    };
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      let completed = false;
      // Each iteration consumes one whole message, so this ends within the bytes received.
      while (buffered.length >= tcpLengthPrefix) {
        const length = buffered.readUInt16BE(0);
        if (buffered.length < tcpLengthPrefix + length) break;
        const message = buffered.subarray(tcpLengthPrefix, tcpLengthPrefix + length);
        buffered = buffered.subarray(tcpLengthPrefix + length);
        completed = true;
        const response = this.handle(message, socket.remoteAddress ?? '');
        if (queue || response instanceof Promise) {
          enqueue(response);
          continue;
        }
        if (!response) {
          socket.destroy();
          return;
        }
        respond(response);
      }
      if (completed || buffered.length === 0) stopMessageTimer();
      if (buffered.length > 0 && !messageTimer) {
        messageTimer = setTimeout(() => socket.destroy(), this.opts.tcpMessageTimeoutMs);
        messageTimer.unref();
      }
    });
  }
}

/** `::ffff:10.0.0.2` → `10.0.0.2` (dual-stack sockets report mapped addresses). */
const normalizeAddress = (a: string): string => (a.startsWith('::ffff:') && isIPv4(a.slice(7)) ? a.slice(7) : a);
