/**
 * Cloud instance-metadata destinations, which newer upstream denies before any tenant or platform rule,
 * with or without a policy, in every mode, and never accepts as an egress proxy endpoint
 * (ctld/internal/ctld/networking/policy/metadata.go): 169.254.0.0/16 (AWS/GCP/Azure IMDS, ECS task
 * metadata 169.254.170.2, all link-local IPv4), 100.100.100.200 (Alibaba Cloud) and fd00:ec2::254 (AWS
 * IMDS over IPv6). IPv4-mapped IPv6 forms are the same addresses (Go's netip Unmap; parseIp maps them).
 */
import ipaddr from 'ipaddr.js';
import { parseIp, type ParsedIp } from './ip.js';

/** 169.254.0.0/16 as a uint32 base and mask. */
const linkLocalV4Base = 0xa9fe0000;
const linkLocalV4Mask = 0xffff0000;
/** 100.100.100.200 */
const alibabaMetadataV4 = 0x646464c8;
const awsMetadataV6 = ipaddr.IPv6.parse('fd00:ec2::254');

/** The prefixes, as upstream lists them (for explanations and docs). */
export const cloudMetadataPrefixes = ['100.100.100.200/32', '169.254.0.0/16', 'fd00:ec2::254/128'] as const;

export function isCloudMetadataIp(ip: ParsedIp): boolean {
  if (ip.family === 4) return ((ip.v4 & linkLocalV4Mask) >>> 0) === linkLocalV4Base || ip.v4 === alibabaMetadataV4;
  return ip.v6.toNormalizedString() === awsMetadataV6.toNormalizedString();
}

/** The same for an address in text; anything that is not an IP literal is not a metadata address. */
export function isCloudMetadataAddress(text: string): boolean {
  const ip = parseIp(text);
  return ip !== undefined && isCloudMetadataIp(ip);
}
