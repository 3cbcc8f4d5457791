import type { Classification } from './protocol-match.js';
import type { QuicCryptoReassembler } from './quic-crypto-reassembler.js';
import { extractQuicClientHello } from './quic-sni.js';
import { parseTlsClientHelloRecords, type ClientHelloInfo } from './tls-client-hello.js';

export interface ClassifyUdpOptions {
  /** Whether the policy has domain rules (reference §3.3; effectively always true in a cluster). */
  domainRulesExist: boolean;
  /** The datagram's original destination `ip:port`; null when it could not be recovered. */
  dst: string | null;
  /** The sandbox-side source `ip:port`; part of the QUIC reassembly key. */
  src?: string;
  /** Shared across datagrams so a ClientHello spanning several Initials can be reassembled. */
  reassembler?: QuicCryptoReassembler;
}

/**
 * Classifies one UDP datagram (reference §3.6): without an original destination, unknown
 * `missing_original_dst`; with domain rules, the SNI of a plain TLS ClientHello or else of a QUIC
 * Initial, and unknown `missing_sni` when there is none; without domain rules, known `udp`, no host.
 */
export function classifyUdp(
  datagram: Buffer,
  { domainRulesExist, dst, src = '', reassembler }: ClassifyUdpOptions,
): Classification {
  if (dst === null) return { kind: 'unknown', reason: 'missing_original_dst' };
  if (!domainRulesExist) return { kind: 'known', appProtocol: 'udp' };

  const hello = datagramClientHello(datagram, { reassembler, src, dst });
  if (!hello?.serverName) return { kind: 'unknown', reason: 'missing_sni' };
  const known: Classification = { kind: 'known', appProtocol: 'udp', host: hello.serverName.toLowerCase() };
  if (hello.alpn !== undefined) known.alpn = hello.alpn;
  return known;
}

/** Plain TLS handshake bytes are tried first, then a QUIC Initial (upstream's order). */
function datagramClientHello(
  datagram: Buffer,
  options: { reassembler: QuicCryptoReassembler | undefined; src: string; dst: string },
): ClientHelloInfo | undefined {
  const tls = parseTlsClientHelloRecords(datagram);
  if (tls.kind === 'ok' && tls.hello.serverName) return tls.hello;
  const quic = extractQuicClientHello(datagram, options);
  return quic.kind === 'client-hello' ? quic.hello : undefined;
}
