import { z } from 'zod';
import { Socks5Reply } from '../../socks5/protocol.js';
import { defineFault } from './fault.js';

/** A proxy that cannot resolve names: 0x08 for ATYP domain, IP addresses still work. */
export const rejectDomainAtyp = defineFault({
  type: 'reject_domain_atyp',
  summary: 'answer requests for a hostname (ATYP 0x03) with 0x08 address type not supported; IPs still work',
  attributes: z.object({}).strict(),
  effect: (_attrs, { phase, request }) =>
    phase === 'request' && request?.address.atyp === 'domain'
      ? { kind: 'reply', code: Socks5Reply.AddressTypeNotSupported }
      : undefined,
});
