import { normalizeHost } from './http.js';
import { needMore, noMatch, type ProtocolMatch } from './protocol-match.js';
import { parseFirstRecordClientHello } from './tls-first-record.js';
import { parseTlsClientHelloRecords } from './tls-client-hello.js';

/**
 * tls: a ClientHello in the first TLS record, parsed as upstream does (tls-first-record.ts). The SNI
 * is normalised as upstream's normalizeHost (trim, lowercase, SplitHostPort); a ClientHello without
 * one (or whose SNI normalises to nothing) is unknown `missing_sni`.
 */
export function matchTls(buf: Buffer): ProtocolMatch {
  const parsed = parseFirstRecordClientHello(buf);
  if (parsed.kind === 'need-more') return needMore;
  if (parsed.kind === 'no-match') return noMatch;
  const host = normalizeHost(parsed.serverName ?? '');
  if (!host) return { kind: 'unknown', reason: 'missing_sni' };
  const match: ProtocolMatch = { kind: 'matched', appProtocol: 'tls', host };
  // ALPN is the emulator's diagnosis only: read with the full parser when the hello is well formed.
  const full = parseTlsClientHelloRecords(buf);
  if (full.kind === 'ok' && full.hello.alpn !== undefined) match.alpn = full.hello.alpn;
  return match;
}
