import { randomBytes } from 'node:crypto';

/**
 * Names and addresses of one emulator instance. Every name carries the instance id so parallel
 * instances never collide, and so a later instance can recognise (and reap) a dead one's leftovers.
 * Interface names are limited to 15 characters by the kernel (IFNAMSIZ - 1).
 */

export const namePrefix = 'see-';
const instanceIdLength = 5;
const instanceIdAlphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';

export function newInstanceId(): string {
  const bytes = randomBytes(instanceIdLength);
  let id = '';
  for (const b of bytes) id += instanceIdAlphabet[b % instanceIdAlphabet.length];
  // A leading letter keeps names readable and never numeric-looking.
  return `i${id.slice(1)}`;
}

const namespacePattern = /^see-([a-z0-9]{5})-(gw|s[a-z0-9]{1,4})$/;

export const gatewayNamespace = (instanceId: string): string => `${namePrefix}${instanceId}-gw`;
export const sandboxNamespace = (instanceId: string, index: number): string => `${namePrefix}${instanceId}-s${index.toString(36)}`;
/** Gateway side and sandbox side of a sandbox's veth pair (≤ 15 characters). */
export const vethNames = (instanceId: string, index: number): { gateway: string; sandbox: string } => ({
  gateway: `see${instanceId}${index.toString(36)}g`,
  sandbox: `see${instanceId}${index.toString(36)}s`,
});
/** nftables pattern matching every gateway-side veth of this instance. */
export const gatewayVethPattern = (instanceId: string): string => `see${instanceId}*`;

/** The instance id of one of our namespaces, or undefined for anything else. */
export function instanceOfNamespace(name: string): string | undefined {
  return namespacePattern.exec(name)?.[1];
}

/** Index limit: 16384 /30 blocks in a /16 (and 4 base-36 digits in names). */
export const maxSandboxes = 16384;

/**
 * One /30 per sandbox inside a /16 picked per instance from 10.64.0.0/10. The addresses exist only in
 * the instance's namespaces (nothing is routed to them from the host), so the choice only has to
 * avoid colliding within an instance; the random /16 keeps logs of parallel instances distinct.
 */
export interface SandboxAddressing {
  gateway: string;
  sandbox: string;
  prefixLength: 30;
}

export const randomAddressBlock = (): number => 64 + (randomBytes(1)[0]! % 64);

export function sandboxAddressing(block: number, index: number): SandboxAddressing {
  if (!Number.isInteger(index) || index < 0 || index >= maxSandboxes) throw new RangeError(`sandbox index ${index} out of range`);
  const base = index * 4;
  const third = base >> 8;
  const fourth = base & 0xff;
  return { gateway: `10.${block}.${third}.${fourth + 1}`, sandbox: `10.${block}.${third}.${fourth + 2}`, prefixLength: 30 };
}
