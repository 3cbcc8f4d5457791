import { z } from 'zod';
import { Socks5Reply, type Socks5Atyp } from '../../socks5/protocol.js';
import { defineFault } from './fault.js';

/**
 * The shape shared by faults that make the proxy lack one address family: requests with that ATYP get
 * 0x08 address type not supported, the others work.
 */
export const addressTypeRejection = ({ type, summary, atyp }: { type: string; summary: string; atyp: Socks5Atyp }) =>
  defineFault({
    type,
    summary,
    attributes: z.object({}).strict(),
    effect: (_attrs, { phase, request }) =>
      phase === 'request' && request?.address.atyp === atyp ? { kind: 'reply', code: Socks5Reply.AddressTypeNotSupported } : undefined,
  });
