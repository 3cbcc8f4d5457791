import { isCloudMetadataAddress } from '../policy/cloud-metadata.js';
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import { EmulatorError } from '../errors.js';
import { formatEndpoint, type Endpoint, type PlatformDnsView } from '../dns/views.js';
import type { CompiledPlatform } from '../policy/platform.js';
import { cidrsContain, parseIp } from '../policy/ip.js';
import type { ProxyTarget } from './decide.js';
import { DirectReads, emitData } from '../net/direct-reads.js';

/** Where a dial failed: the audit's `error_step`. */
export type DialStep =
  | 'proxy_resolve'
  | 'proxy_protected'
  | 'proxy_connect'
  | 'proxy_timeout'
  | 'proxy_method'
  | 'proxy_auth'
  | 'proxy_reply'
  | 'proxy_protocol'
  | 'upstream_no_route'
  | 'upstream_connect'
  | 'upstream_timeout';

/** A typed dial failure. Messages never contain a secret (the `socks` error's options are dropped). */
export class DialError extends EmulatorError {
  readonly step: DialStep;
  readonly replyCode?: number;
  /** The gateway's own `address:port` on its connection to the proxy (the proxy log's `client`), once connected. */
  proxySource?: string;
  constructor(step: DialStep, message: string, replyCode?: number) {
    super(`dial_${step}`, message);
    this.name = 'DialError';
    this.step = step;
    this.replyCode = replyCode;
  }
}

/** RFC 1928 reply codes, named as the `socks` client names them in its messages. */
const socksReplyNames: Record<string, number> = {
  Failure: 0x01,
  NotAllowed: 0x02,
  NetworkUnreachable: 0x03,
  HostUnreachable: 0x04,
  ConnectionRefused: 0x05,
  TTLExpired: 0x06,
  CommandNotSupported: 0x07,
  AddressNotSupported: 0x08,
};

export const socksReplyMeaning: Record<number, string> = {
  0x01: 'general SOCKS server failure',
  0x02: 'connection not allowed by ruleset',
  0x03: 'network unreachable',
  0x04: 'host unreachable',
  0x05: 'connection refused',
  0x06: 'TTL expired',
  0x07: 'command not supported',
  0x08: 'address type not supported',
};

/** Turns a `socks` client error into a DialError, keeping only its message (never `err.options`). */
export function classifySocksError(err: unknown, proxy: string): DialError {
  const message = err instanceof Error ? err.message : String(err);
  const rejected = /^Socks5 proxy rejected connection - (\w+)/.exec(message);
  if (rejected) {
    const code = socksReplyNames[rejected[1]!] ?? 0x01;
    return new DialError('proxy_reply', `SOCKS5 proxy ${proxy} refused the CONNECT: reply 0x0${code.toString(16)} (${socksReplyMeaning[code]})`, code);
  }
  if (message.includes('no accepted authentication type')) return new DialError('proxy_method', `SOCKS5 proxy ${proxy} accepted none of the offered methods (no acceptable authentication methods)`);
  if (message.includes('Authentication failed')) return new DialError('proxy_auth', `SOCKS5 proxy ${proxy} rejected the username/password (username/password authentication failed)`);
  if (message.includes('timed out')) return new DialError('proxy_timeout', `SOCKS5 proxy ${proxy} did not complete the handshake in time`);
  if (/ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ECONNRESET|EADDRNOTAVAIL/.test(message)) return new DialError('proxy_connect', `cannot connect to SOCKS5 proxy ${proxy}: ${message.replace(/^connect /, '')}`);
  if (message.includes('Socket closed')) return new DialError('proxy_protocol', `SOCKS5 proxy ${proxy} closed the connection during the handshake`);
  return new DialError('proxy_protocol', `SOCKS5 handshake with ${proxy} failed: ${message}`);
}

export type ProxyEndpointPolicy = 'allow-loopback' | 'platform';

/** Where direct (non-proxied) egress may go: only loopback and mapped platform endpoints, or anywhere. */
export type DirectEgress = 'loopback-only' | 'real';

/**
 * Where a direct (unproxied) TCP or UDP flow to `dst` goes: a platform `ip:port` endpoint record,
 * loopback, or (with `real`) the address itself; undefined when the emulator has no route there.
 */
export function directRoute(view: PlatformDnsView, directEgress: DirectEgress, dst: { ip: string; port: number }): Endpoint | undefined {
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
export async function resolveProxyEndpoint(host: string, port: number, view: PlatformDnsView, platform: CompiledPlatform, policy: ProxyEndpointPolicy): Promise<Endpoint> {
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
  endpoint: Endpoint;
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
  /**
   * Set after a SOCKS5 handshake: the client hands back what it read past its reply as a `data`
   * event on the next turn of the event loop, so reads must go through `data` events until then.
   */
  afterHandshake?: true;
  /** Through a proxy: the gateway's `address:port` on that connection, as the proxy's connection log names its client. */
  source?: string;
}

/** Opens a TCP connection reading into its own buffer; resolves once connected. */
function connectTcp(endpoint: Endpoint, timeoutMs: number, onTimeout: () => DialError, onError: (err: NodeJS.ErrnoException) => DialError): Promise<Upstream> {
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
 * CONNECT through a SOCKS5 proxy with the `socks` client on a socket of our own (so the relay reads
 * it into a reused buffer): ATYP domain for a hostname, never a local lookup.
 */
// The `socks` client (and its address libraries) is loaded with the first proxied flow, not at
// start-up; later flows reuse the loaded module instead of going through the module loader again.
let socksModule: Promise<typeof import('socks')> | undefined;
const loadSocks = (): Promise<typeof import('socks')> => (socksModule ??= import('socks'));

export async function dialViaProxy(o: ProxyDialOptions): Promise<Upstream> {
  const proxy = `${o.label} (${formatEndpoint(o.endpoint)})`;
  const started = Date.now();
  const [{ SocksClient, SocksClientError }, upstream] = await Promise.all([
    loadSocks(),
    connectTcp(
      o.endpoint,
      o.timeoutMs,
      () => new DialError('proxy_timeout', `SOCKS5 proxy ${proxy} did not complete the handshake in time`),
      (err) => classifySocksError(new Error(`${err.code ?? err.message} ${formatEndpoint(o.endpoint)}`), proxy),
    ),
  ]);
  const { socket, reads } = upstream;
  // Read once while connected: it ties the flow's audit to the proxy's connection-log entry.
  const source = formatEndpoint({ host: socket.localAddress ?? '?', port: socket.localPort ?? 0 });
  // The client listens for `data` events: bridge the reads to it until the handshake is done.
  reads.attach(emitData(socket));
  try {
    const client = new SocksClient({
      proxy: { host: o.endpoint.host, port: o.endpoint.port, type: 5, ...(o.credentials ? { userId: o.credentials.username, password: o.credentials.password } : {}) },
      command: 'connect',
      destination: { host: o.target.host, port: o.target.port },
      timeout: Math.max(1, o.timeoutMs - (Date.now() - started)),
    });
    await new Promise<void>((resolve, reject) => {
      client.once('established', () => {
        client.removeAllListeners();
        resolve();
      });
      client.once('error', (err) => {
        client.removeAllListeners();
        reject(err);
      });
      client.connect(socket);
    });
    // The client's handshake timer stays armed after success until it fires (the whole proxy
    // timeout), holding the client and through it the socket and its read buffers long after the
    // flow ended. Once the client has handed back its surplus (on the next turn), it lets go of them.
    setImmediate(() => releaseSocksClient(client));
    return { ...upstream, afterHandshake: true, source };
  } catch (err) {
    socket.destroy();
    const failure = classifySocksError(err instanceof SocksClientError ? new Error(err.message) : err, proxy);
    failure.proxySource = source;
    throw failure;
  }
}

/** Drops an established `socks` client's references to the socket, its buffer and its options. */
function releaseSocksClient(client: object): void {
  const fields = client as Record<string, unknown>;
  fields.socket = undefined;
  fields.receiveBuffer = undefined;
  fields.options = undefined;
}

/** A direct TCP connection (only where the emulator has a route: loopback or a mapped platform endpoint). */
export function dialDirect(endpoint: Endpoint, timeoutMs: number): Promise<Upstream> {
  return connectTcp(
    endpoint,
    timeoutMs,
    () => new DialError('upstream_timeout', `connecting to ${formatEndpoint(endpoint)} timed out after ${timeoutMs} ms`),
    (err) => new DialError('upstream_connect', `connecting to ${formatEndpoint(endpoint)} failed: ${err.code ?? err.message}`),
  );
}
