import { contiguousPrefix, quicFlowKey, type QuicCryptoReassembler } from './quic-crypto-reassembler.js';
import { decryptClientInitial } from './quic-initial.js';
import { parseClientHelloBody, tlsHandshakeHeaderLength, TlsHandshakeType, type ClientHelloInfo } from './tls-client-hello.js';

export type QuicClientHelloResult =
  | { kind: 'client-hello'; hello: ClientHelloInfo }
  /** A valid Initial whose CRYPTO stream does not yet hold the whole ClientHello. */
  | { kind: 'incomplete' }
  | { kind: 'not-quic' }
  | { kind: 'malformed'; detail: string };

export interface QuicClientHelloOptions {
  /** Keeps partial CRYPTO streams across datagrams; without it only single-datagram ClientHellos parse. */
  reassembler?: QuicCryptoReassembler;
  /** Source and (original) destination of the datagram, `ip:port`: part of the reassembly key. */
  src?: string;
  dst?: string;
}

/**
 * Decrypts a datagram's client Initial packets and parses the ClientHello carried in their CRYPTO
 * frames, reassembling across datagrams of the same connection when a reassembler is given.
 */
export function extractQuicClientHello(
  datagram: Buffer,
  { reassembler, src = '', dst = '' }: QuicClientHelloOptions = {},
): QuicClientHelloResult {
  const decoded = decryptClientInitial(datagram);
  if (decoded.kind !== 'ok') return decoded;
  const key = reassembler === undefined ? '' : quicFlowKey(src, dst, decoded.dcid);
  if (reassembler === undefined || !reassembler.has(key)) {
    // The common case: the whole ClientHello in this one datagram, no state needed.
    const alone = parseHandshakeStream(contiguousPrefix(decoded.crypto));
    if (alone.kind !== 'incomplete' || reassembler === undefined) return alone;
  }
  const result = parseHandshakeStream(reassembler.add(key, decoded.crypto));
  if (result.kind !== 'incomplete') reassembler.delete(key);
  return result;
}

function parseHandshakeStream(stream: Buffer): QuicClientHelloResult {
  if (stream.length < tlsHandshakeHeaderLength) return { kind: 'incomplete' };
  if (stream[0] !== TlsHandshakeType.ClientHello) return { kind: 'malformed', detail: 'CRYPTO stream is not a ClientHello' };
  const length = stream.readUIntBE(1, 3);
  if (stream.length < tlsHandshakeHeaderLength + length) return { kind: 'incomplete' };
  const parsed = parseClientHelloBody(stream.subarray(tlsHandshakeHeaderLength, tlsHandshakeHeaderLength + length));
  if (parsed.kind === 'ok') return { kind: 'client-hello', hello: parsed.hello };
  return parsed.kind === 'malformed' ? parsed : { kind: 'malformed', detail: 'truncated ClientHello' };
}
