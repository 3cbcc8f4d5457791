import dnsPacket from 'dns-packet';
import { needMore, noMatch, type ProtocolMatch } from './protocol-match.js';

/** DNS over TCP (RFC 1035 §4.2.2): a 2-byte length, then the message. */
export const dnsTcpLengthPrefix = 2;
export const dnsHeaderLength = 12;
/** Header flag bit QR: 0 for a query. */
export const dnsQrResponse = 0x8000;

/**
 * dns (TCP): a length-prefixed query with QDCOUNT 1 and no answers. The host is the query name,
 * lowercased (dns-packet gives it without the trailing dot). The message is decoded with dns-packet.
 */
export function matchDnsTcp(buf: Buffer): ProtocolMatch {
  if (buf.length < dnsTcpLengthPrefix) return needMore;
  const length = buf.readUInt16BE(0);
  if (length < dnsHeaderLength) return noMatch;
  // Header checks first, so that non-DNS bytes are rejected without waiting for `length` bytes.
  const h = dnsTcpLengthPrefix;
  if (buf.length >= h + 4 && (buf.readUInt16BE(h + 2) & dnsQrResponse) !== 0) return noMatch;
  if (buf.length >= h + 6 && buf.readUInt16BE(h + 4) !== 1) return noMatch;
  if (buf.length >= h + 8 && buf.readUInt16BE(h + 6) !== 0) return noMatch;
  if (buf.length < h + length) return needMore;
  let name: string | undefined;
  try {
    const message = dnsPacket.decode(buf.subarray(h, h + length));
    name = message.questions?.[0]?.name;
  } catch {
    return noMatch; // not a DNS message after all
  }
  if (name === undefined) return noMatch;
  const match: ProtocolMatch = { kind: 'matched', appProtocol: 'dns' };
  if (name !== '') match.host = name.toLowerCase();
  return match;
}
