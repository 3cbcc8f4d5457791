import { isCloudMetadataAddress } from '../policy/cloud-metadata.js';
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import type { PlatformDnsView } from '../dns/views.js';
import { formatHostPort, type HostPort } from '../net/host-port.js';
import type { CompiledPlatform } from '../policy/platform.js';
import { cidrsContain, parseIp } from '../policy/ip.js';
import type { ProxyTarget } from './decide.js';
import { DirectReads } from '../net/direct-reads.js';
import { socks5Connect } from '../socks5/client.js';
import { DialError, proxyConnectError, proxyDialError } from './dial-error.js';

export { DialError, socksReplyMeaning, type DialStep } from './dial-error.js';

export type ProxyEndpointPolicy = 'allow-loopback' | 'platform';

/** Where direct (non-proxied) egress may go: only loopback and mapped platform endpoints, or anywhere. */
export type DirectEgress = 'loopback-only' | 'real';

/**
 * Where a direct (unproxied) TCP or UDP flow to `dst` goes: a platform `ip:port` endpoint record,
 * loopback, or (with `real`) the address itself; undefined when the emulator has no route there.
 */
export function directRoute(view: PlatformDnsView, directEgress: DirectEgress, dst: { ip: string; port: number }): HostPort | undefined {
  const mapped = view.endpointOverride(dst.ip, dst.port)?.[0];
  if (mapped) return mapped;
  if (directEgress === 'real' || dst.ip === '::1' || dst.ip.startsWith('127.')) return { host: dst.ip, port: dst.port };
  return undefined;
}

/**
 * Is this proxy endpoint address protected? The platform rejects unspecified, loopback, link-local,
 * multicast, cloud metadata and platform-denied addresses; by default the emulator allows loopback (its own proxy lives there).
 */
export function isProtectedProxyAddress(ip: string, platform: CompiledPlatform, policy: ProxyEndpointPolicy): boolean {
  // Newer upstream: a cloud metadata address is never a proxy endpoint, whatever the setting (metadata.go).
  if (isCloudMetadataAddress(ip)) return true;
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.process(ip);
  } catch {
    return true;
  }
  const range = addr.range();
  if (range === 'loopback') return policy === 'platform';
  if (range === 'unspecified' || range === 'linkLocal' || range === 'multicast') return true;
  const parsed = parseIp(ip);
  return parsed !== undefined && cidrsContain(platform.deniedCidrs, parsed);
}

// Proxy endpoint verdicts per platform configuration: a flow's dial asks about the same few addresses.
const protectedVerdicts = new WeakMap<CompiledPlatform, Map<string, boolean>>();
const maxRememberedVerdicts = 1024;

function isProtectedProxyAddressCached(ip: string, platform: CompiledPlatform, policy: ProxyEndpointPolicy): boolean {
  let verdicts = protectedVerdicts.get(platform);
  if (!verdicts) protectedVerdicts.set(platform, (verdicts = new Map()));
  const key = `${policy} ${ip}`;
  let verdict = verdicts.get(key);
  if (verdict === undefined) {
    if (verdicts.size >= maxRememberedVerdicts) verdicts.clear();
    verdict = isProtectedProxyAddress(ip, platform, policy);
    verdicts.set(key, verdict);
  }
  return verdict;
}

/**
 * The proxy's address resolved through the platform DNS view (the platform's node resolver: with
 * passthrough, the host's resolver for a name without a record): the first address that is not protected.
 */
export async function resolveProxyEndpoint(host: string, port: number, view: PlatformDnsView, platform: CompiledPlatform, policy: ProxyEndpointPolicy): Promise<HostPort> {
  let candidates = view.resolveEndpoint(host, port);
  if (!candidates && view.passthrough) {
    const found = await view.lookupEndpoint(host, port);
    if (!found.ok) throw new DialError('proxy_resolve', `egress proxy host ${host} does not resolve: ${found.reason}`);
    candidates = found.endpoints;
  }
  if (!candidates || candidates.length === 0) throw new DialError('proxy_resolve', `egress proxy host ${host} does not resolve in the platform DNS view`);
  for (const c of candidates) {
    if (net.isIP(c.host) === 0) continue;
    if (!isProtectedProxyAddressCached(c.host, platform, policy)) return c;
  }
  const first = candidates[0]!;
  throw new DialError('proxy_protected', `egress proxy endpoint resolves to a protected address: ${host} resolves to ${first.host}`);
}

export interface ProxyDialOptions {
  endpoint: HostPort;
  /** The policy's proxy address as written (`proxy.example.com:1080`), for messages. */
  label: string;
  target: ProxyTarget;
  credentials?: { username: string; password: string };
  timeoutMs: number;
}

/**
 * Bytes per read from an upstream connection (the download direction of most flows). Measured on the
 * whole chain: 128 KiB reads cost 2.06 CPU-s/GiB, 1 MiB reads 1.01 (2 MiB no better). A flow's buffer
 * only grows to this after a read fills its small first buffer, so idle and small flows stay small.
 */
export const upstreamReadBytes = 1024 * 1024;

/** A connected upstream socket whose reads go through `reads` (it emits no `data` events of its own). */
export interface Upstream {
  socket: net.Socket;
  reads: DirectReads;
  /** After a SOCKS5 handshake: what the proxy sent past its reply, the stream's first bytes (read before `reads`). */
  surplus?: Buffer;
  /** Through a proxy: the gateway's `address:port` on that connection, as the proxy's connection log names its client. */
  source?: string;
}

/** Opens a TCP connection reading into its own buffer; resolves once connected. */
function connectTcp(endpoint: HostPort, timeoutMs: number, onTimeout: () => DialError, onError: (err: NodeJS.ErrnoException) => DialError): Promise<Upstream> {
  return new Promise((resolve, reject) => {
    const reads = new DirectReads(upstreamReadBytes);
    const socket = net.connect({ host: endpoint.host, port: endpoint.port, allowHalfOpen: true, onread: reads.onread });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(onTimeout());
    }, timeoutMs);
    const failed = (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(onError(err));
    };
    socket.once('error', failed);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', failed);
      socket.setNoDelay(true);
      resolve({ socket, reads });
    });
  });
}

/**
 * CONNECT through a SOCKS5 proxy with the project's own client on a socket of our own (so the relay
 * reads it into a reused buffer): ATYP domain for a hostname, never a local lookup. The bytes the
 * proxy sent past its reply come back as `surplus`, in the same turn.
 */
export async function dialViaProxy(o: ProxyDialOptions): Promise<Upstream> {
  const proxy = `${o.label} (${formatHostPort(o.endpoint)})`;
  const started = Date.now();
  const upstream = await connectTcp(
    o.endpoint,
    o.timeoutMs,
    () => proxyDialError(proxy, { kind: 'timeout', stage: 'method' }),
    (err) => proxyConnectError(proxy, err.code, `${err.code ?? err.message} ${formatHostPort(o.endpoint)}`),
  );
  const { socket, reads } = upstream;
  // Read once while connected: it ties the flow's audit to the proxy's connection-log entry.
  const source = formatHostPort({ host: socket.localAddress ?? '?', port: socket.localPort ?? 0 });
  const outcome = await socks5Connect(socket, reads, { target: o.target, credentials: o.credentials }, Math.max(1, o.timeoutMs - (Date.now() - started)));
  if (outcome.kind === 'established') return { socket, reads, surplus: outcome.surplus, source };
  socket.destroy();
  const failure = proxyDialError(proxy, outcome);
  failure.proxySource = source;
  throw failure;
}

/** A direct TCP connection (only where the emulator has a route: loopback or a mapped platform endpoint). */
export function dialDirect(endpoint: HostPort, timeoutMs: number): Promise<Upstream> {
  return connectTcp(
    endpoint,
    timeoutMs,
    () => new DialError('upstream_timeout', `connecting to ${formatHostPort(endpoint)} timed out after ${timeoutMs} ms`),
    (err) => new DialError('upstream_connect', `connecting to ${formatHostPort(endpoint)} failed: ${err.code ?? err.message}`),
  );
}
