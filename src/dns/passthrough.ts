import { lookup as dnsLookup } from 'node:dns/promises';

/**
 * Passthrough to the host resolver for the platform DNS view (PRODUCT.md item 6): a name the view has
 * no record for is looked up with the host's resolver (`node:dns` `lookup`, as the platform's node
 * resolver would), bounded by a timeout, and the answer — an address list or a failure — is kept for
 * a short while so a program's retries and the gateway's later questions about the same name are
 * answered alike and do not each wait for the host.
 */

/** The host resolver as `node:dns/promises` `lookup(name, { all: true })` answers; injected by tests. */
export type HostLookup = (hostname: string, options: { all: true }) => Promise<{ address: string; family: number }[]>;

export interface HostPassthroughOptions {
  lookup?: HostLookup;
  /** How long one host lookup may take before the name counts as unresolvable. */
  timeoutMs?: number;
  /** How long an answer (either kind) is kept; `lookup` reports no TTL, so this is fixed. */
  cacheTtlMs?: number;
  now?: () => number;
}

export type PassthroughAnswer = { ok: true; addresses: string[] } | { ok: false; reason: string };

export const defaultPassthroughTimeoutMs = 2_000;
export const defaultPassthroughCacheTtlMs = 30_000;
const maxCachedNames = 4_096;

const defaultHostLookup: HostLookup = (hostname, options) => dnsLookup(hostname, options);

export class HostResolverPassthrough {
  private readonly lookup: HostLookup;
  private readonly timeoutMs: number;
  private readonly cacheTtlMs: number;
  private readonly now: () => number;
  private readonly cache = new Map<string, { answer: PassthroughAnswer; expires: number }>();
  /** Lookups under way: concurrent questions about one name share one host lookup. */
  private readonly pending = new Map<string, Promise<PassthroughAnswer>>();
  /** Bumped by clear(): a lookup that began before it does not fill the cleared cache. */
  private generation = 0;

  constructor({ lookup = defaultHostLookup, timeoutMs = defaultPassthroughTimeoutMs, cacheTtlMs = defaultPassthroughCacheTtlMs, now = Date.now }: HostPassthroughOptions = {}) {
    this.lookup = lookup;
    this.timeoutMs = timeoutMs;
    this.cacheTtlMs = cacheTtlMs;
    this.now = now;
  }

  /** A cached answer for a normalized name, if there is a fresh one (no lookup). */
  cached(name: string): PassthroughAnswer | undefined {
    const entry = this.cache.get(name);
    if (!entry) return undefined;
    if (entry.expires > this.now()) return entry.answer;
    this.cache.delete(name);
    return undefined;
  }

  /** The host resolver's answer for a normalized name: cached, shared with a lookup under way, or looked up now. */
  resolve(name: string): Promise<PassthroughAnswer> {
    const hit = this.cached(name);
    if (hit) return Promise.resolve(hit);
    const inFlight = this.pending.get(name);
    if (inFlight) return inFlight;
    const generation = this.generation;
    const work: Promise<PassthroughAnswer> = this.lookupOnce(name).then((answer) => {
      // After a clear() a newer lookup of the name may be the pending one: leave it.
      if (this.pending.get(name) === work) this.pending.delete(name);
      if (generation === this.generation) {
        if (this.cache.size >= maxCachedNames) this.cache.clear();
        this.cache.set(name, { answer, expires: this.now() + this.cacheTtlMs });
      }
      return answer;
    });
    this.pending.set(name, work);
    return work;
  }

  /** Forgets every answer (reset, a new platform view). */
  clear(): void {
    this.generation++;
    this.cache.clear();
    this.pending.clear();
  }

  private async lookupOnce(name: string): Promise<PassthroughAnswer> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<PassthroughAnswer>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, reason: `the host resolver did not answer for ${name} within ${this.timeoutMs} ms` }), this.timeoutMs);
      timer.unref();
    });
    const looked = this.lookup(name, { all: true }).then(
      (results): PassthroughAnswer => {
        const addresses = [...new Set(results.map((r) => r.address))];
        return addresses.length > 0 ? { ok: true, addresses } : { ok: false, reason: `the host resolver has no address for ${name}` };
      },
      (err: NodeJS.ErrnoException): PassthroughAnswer => ({ ok: false, reason: `the host resolver could not resolve ${name}: ${err.code ?? err.message}` }),
    );
    try {
      return await Promise.race([looked, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }
}
