import { needMore, noMatch, type ProtocolMatch } from './protocol-match.js';
import { parseTlsClientHelloRecords } from './tls-client-hello.js';

/**
 * tls: a handshake record carrying a ClientHello. The SNI host_name is lowercased; a ClientHello
 * without one is unknown `missing_sni`. Malformed ClientHellos are not TLS we can classify.
 */
export function matchTls(buf: Buffer): ProtocolMatch {
  const parsed = parseTlsClientHelloRecords(buf);
  switch (parsed.kind) {
    case 'need-more':
      return needMore;
    case 'not-tls':
    case 'malformed':
      return noMatch;
    case 'ok': {
      const { serverName, alpn } = parsed.hello;
      if (!serverName) return { kind: 'unknown', reason: 'missing_sni' };
      const match: ProtocolMatch = { kind: 'matched', appProtocol: 'tls', host: serverName.toLowerCase() };
      if (alpn !== undefined) match.alpn = alpn;
      return match;
    }
  }
}
