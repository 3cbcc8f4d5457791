import net from 'node:net';
import ipaddr from 'ipaddr.js';
import { Socks5Reply, type Socks5Address } from '../socks5/protocol.js';
import type { CustomerDnsView, HostPort } from './customer-dns.js';

/** Which IP-literal destinations (not in the customer view) the proxy dials directly. */
export type DirectIpPolicy = 'any' | 'loopback' | 'none';

/** Where a request leads, or the reply that refuses it. */
export type Route = { target: HostPort } | { reply: number };

// Strict dotted-quad / IPv6 text only: ipaddr.js would also take forms like `0x7f.1`, which are names here.
const isIpLiteral = (host: string): boolean => net.isIP(host) !== 0;

/** The customer DNS view first (names and IP:port keys), then IP literals directly as `directIps` allows. */
export function routeRequest(address: Socks5Address, dns: CustomerDnsView, directIps: DirectIpPolicy): Route {
  const viewed = dns.resolve(address.host, address.port);
  if (viewed) return { target: viewed };
  if (!isIpLiteral(address.host)) return { reply: Socks5Reply.HostUnreachable };
  const ip = ipaddr.process(address.host);
  const allowed = directIps === 'any' || (directIps === 'loopback' && ip.range() === 'loopback');
  if (!allowed) return { reply: Socks5Reply.NotAllowedByRuleset };
  return { target: { host: ip.toString(), port: address.port } };
}
