import { isIP } from 'node:net';

/**
 * A DNS name as a hosts file may carry it: labels of letters, digits, `-` and `_` (1–63 each, no
 * leading or trailing hyphen), dot-separated, an optional final dot, 253 characters without it.
 * Nothing that could end a hosts-file line, start a comment or separate fields. Pure.
 */
export const dnsNamePattern = /^(?=[^.]{1,63}(?:\.|$))(?:(?!-)[A-Za-z0-9_-]{1,63}(?<!-)\.)*(?!-)[A-Za-z0-9_-]{1,63}(?<!-)\.?$/;
export const maxDnsNameLength = 253;

export function isDnsName(name: string): boolean {
  return name.replace(/\.$/, '').length <= maxDnsNameLength && dnsNamePattern.test(name);
}

/** The first hosts entry that is not a DNS name with parseable addresses, described; undefined when all are. */
export function invalidHostsEntry(hosts: Record<string, readonly string[]>): string | undefined {
  for (const [name, addresses] of Object.entries(hosts)) {
    if (!isDnsName(name)) return `hosts ${JSON.stringify(name)}: must be a DNS name`;
    for (const address of addresses) if (isIP(address) === 0) return `hosts ${JSON.stringify(name)}: ${JSON.stringify(address)} must be an IP address`;
  }
  return undefined;
}
