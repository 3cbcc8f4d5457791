import { z } from 'zod';
import { Socks5Reply } from '../../socks5/protocol.js';
import { defineFault } from './fault.js';

/** A proxy without IPv6 support: 0x08 for ATYP IPv6. */
export const rejectIpv6 = defineFault({
  type: 'reject_ipv6',
  summary: 'answer requests for an IPv6 address (ATYP 0x04) with 0x08 address type not supported',
  attributes: z.object({}).strict(),
  effect: (_attrs, { phase, request }) =>
    phase === 'request' && request?.address.atyp === 'ipv6'
      ? { kind: 'reply', code: Socks5Reply.AddressTypeNotSupported }
      : undefined,
});
