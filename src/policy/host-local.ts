/**
 * The emulator's own guard for flows that would reach the machine it runs on (a deliberate difference,
 * see the README). On the platform a sandbox's 127.0.0.0/8 is its own pod's loopback and never leaves
 * the pod; in the emulator the gateway dials from the host, so 127.0.0.1 is the host's loopback, where
 * the emulator's API, the sandboxes' ingress ports and the user's own services listen. Such a flow is
 * denied unless the sandbox's policy names the address explicitly:
 *  - `host_local_denied`: a host-local address is allowed only by the traffic rule that matched the
 *    flow, when that rule allows and names the address: one of its CIDRs contains it and is no wider
 *    than the address's own host-local range (127.0.0.0/8, ::1/128, or the single address), so
 *    `127.0.0.1/32` or `127.0.0.0/8` names loopback and `0.0.0.0/0` or allow-all do not; or, when a
 *    proxy on this host is asked for the flow's hostname (`localhost`), the rule's domains matched it.
 *  - `emulator_port_denied`: one of the emulator's own listening ports on a host-local address needs
 *    that rule to constrain ports as well (the rule matched, so its ports name this one).
 * Pure: the host's addresses and the emulator's ports are handed in.
 */
import type { CompiledPolicy } from './compiled-policy.js';
import { parseIp, formatIp, type CompiledCidr, type ParsedIp } from './ip.js';

export type HostLocalReason = 'host_local_denied' | 'emulator_port_denied';

/** What is "this host", besides loopback and the unspecified addresses. */
export interface HostFacts {
  /** The host's own addresses (its interfaces, the gateway namespace's side of each sandbox link), canonical text. */
  readonly addresses: ReadonlySet<string>;
  /** Ports the emulator itself listens on (API, test proxy, sandbox ingress); on any host-local address they are the emulator. */
  readonly emulatorPorts: ReadonlySet<number>;
}

const IPV4_LOOPBACK_PREFIX = 8;
const IPV4_BITS = 32;
const IPV6_BITS = 128;
const IPV4_LOOPBACK_FIRST_OCTET = 127;
/** 127.0.0.1 as a uint32. */
const IPV4_LOOPBACK = 0x7f000001;
/** Ways to write the local host's name, which any resolver answers with loopback (RFC 6761 §6.3). */
const localhostName = /^(?:.+\.)?localhost\.?$/i;

/**
 * The minimum prefix length of a CIDR that names this address explicitly, or undefined when the
 * address is not this host: 8 within 127.0.0.0/8, 32 or 128 for any other host-local address.
 */
export function hostLocalPrefix(ip: ParsedIp, host: HostFacts): number | undefined {
  if (ip.family === 4) {
    if (ip.v4 >>> 24 === IPV4_LOOPBACK_FIRST_OCTET) return IPV4_LOOPBACK_PREFIX;
    if (ip.v4 === 0) return IPV4_BITS; // 0.0.0.0: connect() reaches the local host
    return host.addresses.has(formatIp(ip)) ? IPV4_BITS : undefined;
  }
  const range = ip.v6.range();
  if (range === 'loopback' || range === 'unspecified') return IPV6_BITS;
  return host.addresses.has(formatIp(ip)) ? IPV6_BITS : undefined;
}

const INET_ATON_MAX_PARTS = 4;
const BITS_PER_PART = 8;
const MAX_PART = 0xff;
const hexPart = /^0x[0-9a-f]+$/i;
const octalPart = /^0[0-7]*$/;
const decimalPart = /^[1-9][0-9]*$/;

/**
 * An IPv4 address in any form the C library's inet_aton (and so getaddrinfo, which every resolving
 * SOCKS5 server calls) accepts, as a uint32, or -1: one to four parts, each decimal, octal (leading
 * 0) or hex (0x); the last part fills the remaining bytes (`127.1`, `2130706433`, `0x7f000001`, `0`,
 * `127.0.0.01`, `0177.0.0.1`). Pure; no allocation beyond the split.
 */
export function parseInetAton(text: string): number {
  if (text.length === 0 || text.length > 64) return -1;
  const parts = text.split('.');
  if (parts.length > INET_ATON_MAX_PARTS) return -1;
  const values: number[] = [];
  for (const part of parts) {
    let value: number;
    if (hexPart.test(part)) value = part.length > 10 ? Infinity : parseInt(part.slice(2), 16);
    else if (octalPart.test(part)) value = part.length > 12 ? Infinity : parseInt(part, 8);
    else if (decimalPart.test(part)) value = part.length > 10 ? Infinity : parseInt(part, 10);
    else return -1;
    values.push(value);
  }
  const last = values.length - 1;
  let address = 0;
  for (let i = 0; i < last; i++) {
    if (values[i]! > MAX_PART) return -1;
    address = address * 256 + values[i]!;
  }
  const restBits = (INET_ATON_MAX_PARTS - last) * BITS_PER_PART;
  if (values[last]! >= 2 ** restBits) return -1;
  return address * 2 ** restBits + values[last]!;
}

/**
 * The address a host stands for when it needs no resolver: `localhost` names, an IP literal (also in
 * brackets), or an IPv4 address in an inet_aton form that a proxy's resolver would turn into one;
 * undefined for other names (the host's resolver decides those: see `decide.ts`).
 */
export function hostLocalTarget(host: string): ParsedIp | undefined {
  if (localhostName.test(host)) return { family: 4, v4: IPV4_LOOPBACK };
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const literal = parseIp(bare);
  if (literal) return literal;
  const v4 = parseInetAton(bare);
  return v4 >= 0 ? { family: 4, v4 } : undefined;
}

function prefixBits(c: CompiledCidr): number {
  if (c.family === 6) return c.bits;
  let bits = 0;
  for (let m = c.mask; m !== 0; m = (m << 1) >>> 0) bits++;
  return bits;
}

function cidrContains(c: CompiledCidr, ip: ParsedIp): boolean {
  if (ip.family === 4) return c.family === 4 && ((ip.v4 & c.mask) >>> 0) === c.base;
  return c.family === 6 && ip.v6.match(c.network, c.bits);
}

/**
 * The guard for one address a flow would reach from this host. `ruleIndex`: the traffic rule that
 * matched the flow in the destination phase (the decision's matchedRuleIndex), if any. `byHost`: the
 * address stands for the flow's classified host (a proxy target), which that rule's domains matched.
 */
export function guardHostLocal(
  compiled: CompiledPolicy | undefined,
  ruleIndex: number | undefined,
  ip: ParsedIp,
  port: number,
  host: HostFacts,
  byHost = false,
): HostLocalReason | undefined {
  const minPrefix = hostLocalPrefix(ip, host);
  if (minPrefix === undefined) return undefined;
  const reason: HostLocalReason = host.emulatorPorts.has(port) ? 'emulator_port_denied' : 'host_local_denied';
  const rule = ruleIndex === undefined ? undefined : compiled?.trafficRules[ruleIndex];
  if (!rule || rule.action !== 'allow') return reason;
  const named = (byHost && rule.domains.length > 0) || rule.cidrs.some((c) => cidrContains(c, ip) && prefixBits(c) >= minPrefix);
  if (!named) return reason;
  if (reason === 'emulator_port_denied' && rule.ports.length === 0) return reason;
  return undefined;
}

/** Words for the explanation of a host-local deny. */
export function describeHostLocal(reason: HostLocalReason, address: string, port: number): string {
  return reason === 'emulator_port_denied'
    ? `but ${address}:${port} is one of the emulator's own ports on this host (API, test proxy, sandbox ingress): only an allow rule that names the address (e.g. 127.0.0.1/32) and the port reaches it`
    : `but ${address} is this host (its loopback or one of its own addresses), not a network destination: only an allow rule that names it (a CIDR such as 127.0.0.1/32, not 0.0.0.0/0 or allow-all) reaches it`;
}
