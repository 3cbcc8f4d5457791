import { z } from 'zod';
import { Socks5Reply } from '../../socks5/protocol.js';
import { defineFault } from './fault.js';

/** Fails requests with a chosen RFC 1928 reply code instead of connecting. */
export const replyCode = defineFault({
  type: 'reply_code',
  summary: 'answer requests with reply code `code` (0x01-0x08) without connecting',
  attributes: z
    .object({
      code: z
        .number()
        .int()
        .min(Socks5Reply.GeneralFailure, 'code must be a failure reply code, 1 to 8')
        .max(Socks5Reply.AddressTypeNotSupported, 'code must be a failure reply code, 1 to 8')
        .default(Socks5Reply.GeneralFailure),
    })
    .strict(),
  effect: ({ code }, { phase }) => (phase === 'request' ? { kind: 'reply', code } : undefined),
});
