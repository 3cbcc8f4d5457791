import type { MiddlewareHandler } from 'hono';
import ipaddr from 'ipaddr.js';
import { networkInterfaces, hostname } from 'node:os';
import { ApiError } from './error-status.js';
import { fail } from './envelope.js';

/**
 * DNS rebinding protection for a service on this machine: a web page on an attacker's name that
 * re-resolves to 127.0.0.1 reaches the API from the victim's browser with `Host: attacker.example`.
 * The API answers only requests whose Host names an address it listens on: `localhost`, loopback
 * literals, the listen address, and (listening on a wildcard address) this machine's own addresses
 * and host name, plus names the operator adds (`--allowed-host`, `SEE_ALLOWED_HOSTS`). The port is
 * not checked (port forwards and container port mappings change it; the name is what a rebinding
 * attack cannot forge). A request without a Host header (HTTP/1.0) comes from no browser: allowed.
 */

/** The name part of a Host header, lower-case, without a trailing dot or IPv6 brackets; undefined when malformed. */
export function hostHeaderName(header: string): string | undefined {
  const value = header.trim().toLowerCase();
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    if (end < 0) return undefined;
    const rest = value.slice(end + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return undefined;
    return canonical(value.slice(1, end));
  }
  const colon = value.indexOf(':');
  const name = colon < 0 ? value : value.slice(0, colon);
  if (colon >= 0 && !/^\d{1,5}$/.test(value.slice(colon + 1))) return undefined;
  if (name === '') return undefined;
  return canonical(name.replace(/\.$/, ''));
}

/** An IP literal in its canonical text (so `0:0:0:0:0:0:0:1` is `::1`); a name as it is. */
function canonical(name: string): string {
  if (!ipaddr.isValid(name)) return name;
  try {
    return ipaddr.process(name).toString();
  } catch {
    return name;
  }
}

const isWildcard = (listenHost: string): boolean => {
  const bare = listenHost.replace(/^\[(.*)\]$/, '$1');
  return bare === '0.0.0.0' || bare === '::' || bare === '';
};

/** Every name a Host header may carry for an API listening on `listenHost`. */
export function allowedHostNames(listenHost: string, extra: readonly string[] = []): Set<string> {
  const names = new Set<string>(['localhost', '127.0.0.1', '::1']);
  const add = (n: string) => {
    const name = hostHeaderName(n.includes(':') && !n.startsWith('[') && ipaddr.IPv6.isValid(n) ? `[${n}]` : n);
    if (name) names.add(name);
  };
  add(listenHost.replace(/^\[(.*)\]$/, '[$1]'));
  if (isWildcard(listenHost)) {
    for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) add(i.address.replace(/%.*$/, ''));
    add(hostname());
  }
  for (const n of extra) if (n.trim()) add(n.trim());
  return names;
}

/** The middleware: 403 in the API's envelope for a Host that names none of `allowed`. */
export function hostHeaderGuard(allowed: () => ReadonlySet<string>): MiddlewareHandler {
  return async (c, next) => {
    const header = c.req.header('host');
    if (header === undefined) return next();
    const name = hostHeaderName(header);
    if (name !== undefined && allowed().has(name)) return next();
    return fail(
      c,
      new ApiError(
        'forbidden',
        `Host header ${JSON.stringify(header.slice(0, 255))} does not name an address this emulator listens on (DNS rebinding protection): use localhost, 127.0.0.1, [::1] or the listen address, or allow the name with --allowed-host / SEE_ALLOWED_HOSTS`,
      ),
    );
  };
}
