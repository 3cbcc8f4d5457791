import { addressTypeRejection } from './address-type-rejection.js';

/** A proxy that cannot resolve names: 0x08 for ATYP domain, IP addresses still work. */
export const rejectDomainAtyp = addressTypeRejection({
  type: 'reject_domain_atyp',
  summary: 'answer requests for a hostname (ATYP 0x03) with 0x08 address type not supported; IPs still work',
  atyp: 'domain',
});
