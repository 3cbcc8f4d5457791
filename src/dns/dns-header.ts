/** RFC 1035 §4.1.1: the DNS message header's length and the flag bits the emulator reads or sets. */
export const DnsHeader = {
  length: 12,
  qrResponseBit: 0x8000,
  opcodeMask: 0x7800,
  rdBit: 0x0100,
  raBit: 0x0080,
  rcodeMask: 0x000f,
} as const;

/** RFC 1035 §4.1.1 RCODE values. */
export const DnsRcode = { NoError: 0, FormErr: 1, ServFail: 2, NxDomain: 3, NotImp: 4, Refused: 5 } as const;
export type DnsRcode = (typeof DnsRcode)[keyof typeof DnsRcode];
