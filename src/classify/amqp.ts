import { needMore, noMatch, startsWithPrefixOf, type ProtocolMatch } from './protocol-match.js';

/** The AMQP protocol header starts with the literal `AMQP` followed by 4 version bytes. */
export const amqpMagic = Buffer.from('AMQP', 'latin1');
export const amqpProtocolHeaderLength = 8;

/** amqp: starts with `AMQP`, at least 8 bytes (the full protocol header). Carries no host. */
export function matchAmqp(buf: Buffer): ProtocolMatch {
  if (!startsWithPrefixOf(buf, amqpMagic)) return noMatch;
  if (buf.length < amqpProtocolHeaderLength) return needMore;
  return { kind: 'matched', appProtocol: 'amqp' };
}
