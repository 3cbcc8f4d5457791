import { matchAmqp } from './amqp.js';
import { matchDnsTcp } from './dns-tcp.js';
import { matchHttp } from './http.js';
import { matchMongodb } from './mongodb.js';
import { matchMqtt } from './mqtt.js';
import type { ProtocolMatcher, TcpClassification } from './protocol-match.js';
import { matchRedis } from './redis.js';
import { matchSocks5 } from './socks5.js';
import { matchSsh } from './ssh.js';
import { matchTls } from './tls.js';

/** The platform's peek limit (`proxy_header_limit`, 64 KiB). */
export const defaultHeaderLimit = 65_536;

/** Upstream's order (classifier.go): the first matcher that decides wins. */
export const tcpMatchers: readonly { name: string; match: ProtocolMatcher }[] = [
  { name: 'http', match: matchHttp },
  { name: 'tls', match: matchTls },
  { name: 'amqp', match: matchAmqp },
  { name: 'dns-tcp', match: matchDnsTcp },
  { name: 'mqtt', match: matchMqtt },
  { name: 'mongodb', match: matchMongodb },
  { name: 'redis', match: matchRedis },
  { name: 'socks5', match: matchSocks5 },
  { name: 'ssh', match: matchSsh },
];

export interface ClassifyTcpOptions {
  /** No more bytes will come (EOF): matchers still waiting for bytes count as no-match. */
  final?: boolean;
  /** Bytes the peeker may hold; a classifier still waiting at this size gives `header_limit_exceeded`. */
  headerLimit?: number;
}

/**
 * Classifies the first client bytes of a TCP flow. Matchers run in order; the first one that matches
 * (or recognises its protocol but finds it unclassifiable, e.g. `missing_sni`) decides. When none
 * decides and one is still waiting for bytes, the answer is `need-more`, unless the header limit is
 * reached. When all say no-match: unknown `unclassified`. Only the first `headerLimit` bytes are read.
 */
export function classifyTcp(
  buf: Buffer,
  { final = false, headerLimit = defaultHeaderLimit }: ClassifyTcpOptions = {},
): TcpClassification {
  const view = buf.length > headerLimit ? buf.subarray(0, headerLimit) : buf;
  let waiting = false;
  for (const { match } of tcpMatchers) {
    const m = match(view);
    switch (m.kind) {
      case 'matched': {
        const known: TcpClassification = { kind: 'known', appProtocol: m.appProtocol };
        if (m.host !== undefined) known.host = m.host;
        if (m.alpn !== undefined) known.alpn = m.alpn;
        return known;
      }
      case 'unknown':
        return { kind: 'unknown', reason: m.reason };
      case 'need-more':
        waiting = true;
        break;
      case 'no-match':
        break;
    }
  }
  if (waiting && !final) {
    return view.length >= headerLimit ? { kind: 'unknown', reason: 'header_limit_exceeded' } : { kind: 'need-more' };
  }
  return { kind: 'unknown', reason: 'unclassified' };
}
