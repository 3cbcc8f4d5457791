import { isIP } from 'node:net';
import { formatHostPort, parseHostPort, type HostPort } from '../net/host-port.js';

/**
 * The platform DNS view: what a sandbox's resolver (and ctld's host verification) sees. Records map a
 * name to addresses; a `name:port` record maps an endpoint to `host:port` endpoints, which is how the
 * default world points `proxy.example.com:1080` at the embedded test proxy's loopback port.
 * Names are case-insensitive and a trailing dot is ignored (they are DNS names, not policy patterns).
 */
export type PlatformRecords = Record<string, string[]>;

export type Endpoint = HostPort;

export const normalizeName = (name: string): string => name.trim().toLowerCase().replace(/\.$/, '');

/** Splits `host:port` / `[v6]:port` (a port is required); undefined when it is not one. */
export function splitHostPort(s: string): Endpoint | undefined {
  const e = parseHostPort(s);
  return e && e.port >= 1 ? e : undefined;
}

export const formatEndpoint = formatHostPort;

/** Returns an error message for an invalid record set, or undefined. */
export function validatePlatformRecords(records: unknown): string | undefined {
  if (records === null || typeof records !== 'object' || Array.isArray(records)) return 'records must be an object of name → addresses';
  for (const [key, value] of Object.entries(records)) {
    if (!Array.isArray(value) || value.length === 0) return `records["${key}"] must be a non-empty array`;
    const endpointKey = splitHostPort(key) !== undefined;
    const name = endpointKey ? splitHostPort(key)!.host : key;
    if (!/^[a-z0-9_*]([a-z0-9_.-]*[a-z0-9_])?\.?$/i.test(name) || name.length > 253) return `"${key}" is not a DNS name`;
    for (const v of value) {
      if (typeof v !== 'string') return `records["${key}"] must hold strings`;
      if (endpointKey) {
        if (!splitHostPort(v)) return `records["${key}"]: "${v}" must be host:port (a name:port record maps to endpoints)`;
      } else if (!isIP(v)) {
        return `records["${key}"]: "${v}" is not an IP address`;
      }
    }
  }
  return undefined;
}

export class PlatformDnsView {
  private names = new Map<string, string[]>();
  private endpoints = new Map<string, Endpoint[]>();

  constructor(records: PlatformRecords = {}) {
    this.replace(records);
  }

  /** Replaces the whole view (`PUT /_emulator/dns/platform`). The caller validated the records. */
  replace(records: PlatformRecords): void {
    this.names.clear();
    this.endpoints.clear();
    for (const [key, values] of Object.entries(records)) {
      const ep = splitHostPort(key);
      if (ep) this.endpoints.set(`${normalizeName(ep.host)}:${ep.port}`, values.map((v) => splitHostPort(v)!));
      else this.names.set(normalizeName(key), [...values]);
    }
  }

  /** The view as it was set (for GET). */
  records(): PlatformRecords {
    const out: PlatformRecords = {};
    for (const [k, v] of this.names) out[k] = [...v];
    for (const [k, v] of this.endpoints) out[k] = v.map(formatEndpoint);
    return out;
  }

  /** A host's addresses, as the sandbox resolver answers; undefined means NXDOMAIN. IP literals resolve to themselves. */
  resolve(name: string): string[] | undefined {
    if (isIP(name)) return [name];
    return this.names.get(normalizeName(name));
  }

  /** An explicit `name:port` (or `ip:port`) record, if there is one. */
  endpointOverride(host: string, port: number): Endpoint[] | undefined {
    return this.endpoints.get(`${normalizeName(host)}:${port}`)?.map((e) => ({ ...e }));
  }

  /** Where a connection to `host:port` really goes: a `name:port` record first, else the name's addresses. */
  resolveEndpoint(host: string, port: number): Endpoint[] | undefined {
    const override = this.endpoints.get(`${normalizeName(host)}:${port}`);
    if (override) return override.map((e) => ({ ...e }));
    return this.resolve(host)?.map((ip) => ({ host: ip, port }));
  }
}
