import { isIP } from 'node:net';
import { formatHostPort, parseHostPort, type HostPort } from '../net/host-port.js';
import type { HostResolverPassthrough, PassthroughAnswer } from './passthrough.js';

/**
 * The platform DNS view: what a sandbox's resolver (and ctld's host verification) sees. Records map a
 * name to addresses; a `name:port` record maps an endpoint to `host:port` endpoints, which is how the
 * default world points `proxy.example.com:1080` at the embedded test proxy's loopback port.
 * Names are case-insensitive and a trailing dot is ignored (they are DNS names, not policy patterns).
 */
export type PlatformRecords = Record<string, string[]>;

export const normalizeName = (name: string): string => name.trim().toLowerCase().replace(/\.$/, '');

/**
 * A record key or value as an endpoint: `host:port` / `[v6]:port` with a port of at least 1; undefined
 * when it is not one (a plain name). Not Go's SplitHostPort (`go/net.ts`): that one reports errors.
 */
function parseEndpoint(s: string): HostPort | undefined {
  const e = parseHostPort(s);
  return e && e.port >= 1 ? e : undefined;
}

/** Returns an error message for an invalid record set, or undefined. */
export function validatePlatformRecords(records: unknown): string | undefined {
  if (records === null || typeof records !== 'object' || Array.isArray(records)) return 'records must be an object of name → addresses';
  for (const [key, value] of Object.entries(records)) {
    if (!Array.isArray(value) || value.length === 0) return `records["${key}"] must be a non-empty array`;
    const keyEndpoint = parseEndpoint(key);
    const endpointKey = keyEndpoint !== undefined;
    const name = keyEndpoint?.host ?? key;
    if (!/^[a-z0-9_*]([a-z0-9_.-]*[a-z0-9_])?\.?$/i.test(name) || name.length > 253) return `"${key}" is not a DNS name`;
    for (const v of value) {
      if (typeof v !== 'string') return `records["${key}"] must hold strings`;
      if (endpointKey) {
        if (!parseEndpoint(v)) return `records["${key}"]: "${v}" must be host:port (a name:port record maps to endpoints)`;
      } else if (!isIP(v)) {
        return `records["${key}"]: "${v}" is not an IP address`;
      }
    }
  }
  return undefined;
}

/**
 * A name's addresses as the platform's resolver answers them, or why there are none (`askedHost`: the
 * host's resolver was asked, through passthrough, and did not help).
 */
export type NameLookup = { ok: true; addresses: string[] } | { ok: false; reason: string; askedHost?: true };
export type EndpointLookup = { ok: true; endpoints: HostPort[] } | { ok: false; reason: string; askedHost?: true };

export class PlatformDnsView {
  private names = new Map<string, string[]>();
  private endpoints = new Map<string, HostPort[]>();
  private readonly hostResolver: HostResolverPassthrough | undefined;

  /** With `passthrough`, names without a record are looked up with the host's resolver (`lookup*`). */
  constructor(records: PlatformRecords = {}, passthrough?: HostResolverPassthrough) {
    this.hostResolver = passthrough;
    this.replace(records);
  }

  /** Whether names without a record go to the host's resolver. */
  get passthrough(): boolean {
    return this.hostResolver !== undefined;
  }

  /** Replaces the whole view (`PUT /_emulator/dns/platform`). The caller validated the records. */
  replace(records: PlatformRecords): void {
    this.hostResolver?.clear();
    this.names.clear();
    this.endpoints.clear();
    for (const [key, values] of Object.entries(records)) {
      const ep = parseEndpoint(key);
      if (ep) this.endpoints.set(`${normalizeName(ep.host)}:${ep.port}`, values.map((v) => parseEndpoint(v)!));
      else this.names.set(normalizeName(key), [...values]);
    }
  }

  /** The view as it was set (for GET). */
  records(): PlatformRecords {
    const out: PlatformRecords = {};
    for (const [k, v] of this.names) out[k] = [...v];
    for (const [k, v] of this.endpoints) out[k] = v.map(formatHostPort);
    return out;
  }

  /**
   * A host's addresses from the records, else (with passthrough) a fresh cached host-resolver answer;
   * undefined means NXDOMAIN as far as is known without waiting. IP literals resolve to themselves.
   * The gateway's synchronous questions (host verification) use this; sandbox-side resolution uses `lookup`.
   */
  resolve(name: string): string[] | undefined {
    if (isIP(name)) return [name];
    const normalized = normalizeName(name);
    const recorded = this.names.get(normalized);
    if (recorded || !this.hostResolver) return recorded;
    const cached = this.hostResolver.cached(normalized);
    return cached?.ok ? [...cached.addresses] : undefined;
  }

  /** A host's addresses: an explicit record always wins; else the host's resolver with passthrough; else none. */
  async lookup(name: string): Promise<NameLookup> {
    const known = this.lookupKnown(name);
    if (known) return known;
    const normalized = normalizeName(name);
    return this.passthroughAnswer(normalized, await this.hostResolver!.resolve(normalized));
  }

  /**
   * `lookup` when the answer is known without waiting (an IP literal, a record, no passthrough, or a
   * cached host-resolver answer); undefined when the host's resolver must be asked.
   */
  lookupKnown(name: string): NameLookup | undefined {
    if (isIP(name)) return { ok: true, addresses: [name] };
    const normalized = normalizeName(name);
    const recorded = this.names.get(normalized);
    if (recorded) return { ok: true, addresses: [...recorded] };
    if (!this.hostResolver) return { ok: false, reason: `${normalized} has no record in the platform DNS view` };
    const cached = this.hostResolver.cached(normalized);
    return cached && this.passthroughAnswer(normalized, cached);
  }

  private passthroughAnswer(name: string, answer: PassthroughAnswer): NameLookup {
    return answer.ok ? { ok: true, addresses: [...answer.addresses] } : { ok: false, reason: `${name} has no record in the platform DNS view and ${answer.reason} (passthrough)`, askedHost: true };
  }

  /** `resolveEndpoint` with passthrough for the name: a `name:port` record first, else `lookup(host)`. */
  async lookupEndpoint(host: string, port: number): Promise<EndpointLookup> {
    const override = this.endpointOverride(host, port);
    if (override) return { ok: true, endpoints: override };
    const found = await this.lookup(host);
    return found.ok ? { ok: true, endpoints: found.addresses.map((ip) => ({ host: ip, port })) } : found;
  }

  /** An explicit `name:port` (or `ip:port`) record, if there is one. */
  endpointOverride(host: string, port: number): HostPort[] | undefined {
    return this.endpoints.get(`${normalizeName(host)}:${port}`)?.map((e) => ({ ...e }));
  }

  /** Where a connection to `host:port` really goes: a `name:port` record first, else the name's addresses. */
  resolveEndpoint(host: string, port: number): HostPort[] | undefined {
    const override = this.endpoints.get(`${normalizeName(host)}:${port}`);
    if (override) return override.map((e) => ({ ...e }));
    return this.resolve(host)?.map((ip) => ({ host: ip, port }));
  }
}
