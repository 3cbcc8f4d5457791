import { needMore, noMatch, type ProtocolMatch } from './protocol-match.js';

/** MongoDB wire protocol opcodes a client opens with. */
export const MongoOpCode = { Query: 2004, Msg: 2013 } as const;
/** MsgHeader: int32 messageLength, requestID, responseTo, opCode (little-endian). */
export const mongoHeaderLength = 16;
/** The server's default maxMessageSizeBytes; a larger first message is not MongoDB. */
export const mongoMaxMessageLength = 48_000_000;

/** mongodb: an OP_MSG or OP_QUERY message header. Carries no host. */
export function matchMongodb(buf: Buffer): ProtocolMatch {
  if (buf.length >= 4) {
    const length = buf.readInt32LE(0);
    if (length < mongoHeaderLength || length > mongoMaxMessageLength) return noMatch;
  }
  if (buf.length < mongoHeaderLength) return needMore;
  const opCode = buf.readInt32LE(12);
  if (opCode !== MongoOpCode.Msg && opCode !== MongoOpCode.Query) return noMatch;
  return { kind: 'matched', appProtocol: 'mongodb' };
}
