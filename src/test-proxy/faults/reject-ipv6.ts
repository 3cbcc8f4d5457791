import { addressTypeRejection } from './address-type-rejection.js';

/** A proxy without IPv6 support: 0x08 for ATYP IPv6. */
export const rejectIpv6 = addressTypeRejection({
  type: 'reject_ipv6',
  summary: 'answer requests for an IPv6 address (ATYP 0x04) with 0x08 address type not supported',
  atyp: 'ipv6',
});
