import net from 'node:net';
import { normalizeName, type NameLookup, type PlatformDnsView } from '../dns/views.js';

/** A name resolved from a sandbox's position: the address a program would dial (IPv4 first), or why there is none. */
export type SandboxLookup = { ok: true; address: string; addresses: string[] } | { ok: false; reason: string; askedHost?: true };

/**
 * How long a look-up may take:
 * - `known`: only what is known without waiting; undefined when the host's resolver (platform DNS
 *   passthrough) would have to be asked.
 * - `ask-host`: asks the host's resolver then; synchronous whenever the answer is known (always,
 *   without passthrough), so those paths keep their timing.
 */
export type LookupWait = 'known' | 'ask-host';

/** A value now, or once the host's resolver answered. */
export type NowOrLater<T> = T | Promise<T>;

/** Applies `f` to a value that may still be pending, without a tick when it is not. */
export const thenApply = <T, U>(value: NowOrLater<T>, f: (v: T) => U): NowOrLater<U> => (value instanceof Promise ? value.then(f) : f(value));

/** The address a program dials for a found name: the first IPv4 one, else the first. */
export function pickAddress(found: NameLookup): SandboxLookup {
  if (!found.ok) return found;
  const address = found.addresses.find((a) => net.isIP(a) === 4) ?? found.addresses[0];
  return address ? { ok: true, address, addresses: found.addresses } : { ok: false, reason: 'no addresses' };
}

/** Every address found, or undefined (NXDOMAIN, or not known yet). */
export const addressesOf = (found: NameLookup | undefined): string[] | undefined => (found?.ok ? found.addresses : undefined);

/** The address a program dials, or undefined. */
export const addressOf = (found: SandboxLookup): string | undefined => (found.ok ? found.address : undefined);

export interface SandboxNameResolverDeps {
  /** The sandbox's hosts entries as stored (undefined: no such sandbox). */
  hosts: (sandboxId: string) => Record<string, string[]> | undefined;
  platformDns: () => PlatformDnsView;
}

/**
 * The sandbox's resolver: its hosts entries first, then the platform DNS view (and, with passthrough,
 * the host's resolver); IP literals as is. (dns/resolver-server.ts's `SandboxResolver` is the DNS
 * server a transparent sandbox asks; it answers from here through `runtime.resolverAnswer`.)
 */
export class SandboxNameResolver {
  // Hosts entries by normalized name, per sandbox: read from the store once, not on every flow.
  private readonly hostsCache = new Map<string, Map<string, string[]>>();

  constructor(private readonly deps: SandboxNameResolverDeps) {}

  /** The one look-up every sandbox-side question goes through; `wait` says whether it may ask the host (LookupWait). */
  lookup(sandboxId: string, host: string, wait: 'known'): NameLookup | undefined;
  lookup(sandboxId: string, host: string, wait: 'ask-host'): NowOrLater<NameLookup>;
  lookup(sandboxId: string, host: string, wait: LookupWait): NowOrLater<NameLookup> | undefined {
    if (net.isIP(host)) return { ok: true, addresses: [host] };
    const name = normalizeName(host);
    const entry = this.hostsOf(sandboxId).get(name);
    if (entry) return { ok: true, addresses: entry };
    const platform = this.deps.platformDns();
    return platform.lookupKnown(name) ?? (wait === 'ask-host' ? platform.lookup(name) : undefined);
  }

  /** Drops the cached hosts entries (they changed, or the sandbox is gone). */
  forget(sandboxId: string): void {
    this.hostsCache.delete(sandboxId);
  }

  private hostsOf(sandboxId: string): Map<string, string[]> {
    let entries = this.hostsCache.get(sandboxId);
    if (!entries) {
      entries = new Map(Object.entries(this.deps.hosts(sandboxId) ?? {}).map(([k, v]) => [normalizeName(k), v] as const));
      this.hostsCache.set(sandboxId, entries);
    }
    return entries;
  }
}

/** What `connect`/`sendDatagram` dial: the target's `ip`, else its `host` as a program in the sandbox resolves it (`found`). */
export function targetAddress(resolver: SandboxNameResolver, sandboxId: string, target: { host?: string; ip?: string }): NowOrLater<{ ip?: string; found?: SandboxLookup }> {
  if (target.ip !== undefined || !target.host) return { ip: target.ip };
  const found = thenApply(resolver.lookup(sandboxId, target.host, 'ask-host'), pickAddress);
  return thenApply(found, (f) => ({ ip: addressOf(f), found: f }));
}
