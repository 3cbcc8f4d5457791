import dnsPacket from 'dns-packet';
import { DnsHeader, DnsRcode } from './dns-header.js';

/**
 * What the DNS snoop cache learns from one DNS response a sandbox received: each A/AAAA address of
 * the queried name, following CNAMEs, so that `git.example.com CNAME lb.example.net A 198.18.0.22`
 * maps 198.18.0.22 to `git.example.com` (the name the sandbox asked for). Pure; never throws.
 */
export interface SnoopedAnswer {
  address: string;
  /** The originally queried name (lowercased, no trailing dot). */
  host: string;
  ttlSeconds: number;
}

const { length: dnsHeaderLength, qrResponseBit, opcodeMask, rcodeMask } = DnsHeader;
const rcodeNoError = DnsRcode.NoError;
/** The smallest resource record: a one-byte (root) name, then type, class, TTL and RDLENGTH. */
const minRecordLength = 11;

const normalizeName = (name: string): string => name.toLowerCase().replace(/\.$/, '');

/**
 * Checks the header before decoding: only a NOERROR standard response with one question and counts
 * that fit the message is decoded (dns-packet spends long on random bytes with huge counts).
 */
function plausibleResponse(message: Buffer): boolean {
  if (message.length < dnsHeaderLength) return false;
  const flags = message.readUInt16BE(2);
  if ((flags & qrResponseBit) === 0 || (flags & opcodeMask) !== 0 || (flags & rcodeMask) !== rcodeNoError) return false;
  const questions = message.readUInt16BE(4);
  const records = message.readUInt16BE(6) + message.readUInt16BE(8) + message.readUInt16BE(10);
  const answers = message.readUInt16BE(6);
  return questions === 1 && answers > 0 && records * minRecordLength <= message.length - dnsHeaderLength;
}

export function snoopDnsResponse(message: Buffer): SnoopedAnswer[] {
  if (!plausibleResponse(message)) return [];
  let decoded: dnsPacket.DecodedPacket;
  try {
    decoded = dnsPacket.decode(message);
  } catch {
    return [];
  }
  const question = decoded.questions?.[0];
  if (!question?.name) return [];
  const host = normalizeName(question.name);
  if (host === '') return [];
  const answers = decoded.answers ?? [];

  // The names that stand for the queried one: itself and every CNAME target reached from it.
  const aliases = new Set([host]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const a of answers) {
      if (a.type !== 'CNAME' || typeof a.data !== 'string') continue;
      const target = normalizeName(a.data);
      if (aliases.has(normalizeName(a.name)) && !aliases.has(target)) {
        aliases.add(target);
        grew = true;
      }
    }
  }

  const out: SnoopedAnswer[] = [];
  for (const a of answers) {
    if ((a.type !== 'A' && a.type !== 'AAAA') || typeof a.data !== 'string') continue;
    if (!aliases.has(normalizeName(a.name))) continue;
    out.push({ address: a.data, host, ttlSeconds: a.ttl ?? 0 });
  }
  return out;
}

const tcpLengthPrefix = 2;

/**
 * Splits a DNS-over-TCP byte stream (RFC 1035 §4.2.2: two-byte length, then the message) into
 * messages. Bytes are copied (callers may hand views of a reused read buffer); at most one message
 * (64 KiB) is held at a time.
 */
export class DnsTcpFramer {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.pending, chunk]);
    const messages: Buffer[] = [];
    while (this.pending.length >= tcpLengthPrefix) {
      const length = this.pending.readUInt16BE(0);
      if (this.pending.length < tcpLengthPrefix + length) break;
      messages.push(this.pending.subarray(tcpLengthPrefix, tcpLengthPrefix + length));
      this.pending = this.pending.subarray(tcpLengthPrefix + length);
    }
    return messages;
  }
}
