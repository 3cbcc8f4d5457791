import { formatIp, parseIp } from '../policy/ip.js';
import type { SnoopedAnswer } from './snoop-response.js';

/**
 * The per-sandbox IP → host cache fed by the DNS answers a sandbox receives (reference §4, "SSH
 * hostname from DNS"; ctld's dns_cache.go). It is used only to give SSH flows, which carry no host, a
 * hostname. Pure data structure: the clock is injected, nothing here does I/O.
 */

/** TTLs are clamped to this range: a 0 s answer still names a connection made right after it. */
export const snoopTtlMinSeconds = 5;
export const snoopTtlMaxSeconds = 300;
/** Entries per sandbox; the oldest is evicted first. */
export const snoopMaxEntriesPerSandbox = 4096;

export interface DnsSnoopCacheOptions {
  /** Milliseconds since the epoch (default `Date.now`). */
  now?: () => number;
  maxEntriesPerSandbox?: number;
}

interface Entry {
  host: string;
  expiresAt: number;
}

export const clampSnoopTtl = (ttlSeconds: number): number =>
  Number.isFinite(ttlSeconds) ? Math.min(snoopTtlMaxSeconds, Math.max(snoopTtlMinSeconds, ttlSeconds)) : snoopTtlMinSeconds;

/** `::ffff:10.0.0.1` and `2001:DB8::1` key the same as the flows' canonical destination text. */
const canonicalAddress = (address: string): string | undefined => {
  const parsed = parseIp(address.trim());
  return parsed ? formatIp(parsed) : undefined;
};

const normalizeHost = (host: string): string => host.trim().toLowerCase().replace(/\.$/, '');

export class DnsSnoopCache {
  private readonly sandboxes = new Map<string, Map<string, Entry>>();
  private readonly now: () => number;
  private readonly maxEntries: number;

  constructor({ now = Date.now, maxEntriesPerSandbox = snoopMaxEntriesPerSandbox }: DnsSnoopCacheOptions = {}) {
    this.now = now;
    this.maxEntries = maxEntriesPerSandbox;
  }

  /** Remembers that `address` is `host` for this sandbox for the (clamped) TTL. Bad input is ignored. */
  record(sandboxId: string, address: string, host: string, ttlSeconds: number): void {
    const key = canonicalAddress(address);
    const name = normalizeHost(host);
    if (key === undefined || name === '') return;
    let entries = this.sandboxes.get(sandboxId);
    if (!entries) this.sandboxes.set(sandboxId, (entries = new Map()));
    // Re-inserted so that Map order stays "oldest written first" for eviction.
    entries.delete(key);
    while (entries.size >= this.maxEntries) {
      const oldest = entries.keys().next();
      if (oldest.done) break;
      entries.delete(oldest.value);
    }
    entries.set(key, { host: name, expiresAt: this.now() + clampSnoopTtl(ttlSeconds) * 1000 });
  }

  /** Records every answer of one DNS response (see `snoopDnsResponse`). */
  recordAnswers(sandboxId: string, answers: readonly SnoopedAnswer[]): void {
    for (const a of answers) this.record(sandboxId, a.address, a.host, a.ttlSeconds);
  }

  /** The host this sandbox last resolved to `address`, while its TTL lasts. */
  lookup(sandboxId: string, address: string): string | undefined {
    const entries = this.sandboxes.get(sandboxId);
    const key = entries && canonicalAddress(address);
    const entry = key === undefined ? undefined : entries!.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      entries!.delete(key!);
      if (entries!.size === 0) this.sandboxes.delete(sandboxId);
      return undefined;
    }
    return entry.host;
  }

  /** Live and not yet swept entries of a sandbox. */
  size(sandboxId: string): number {
    return this.sandboxes.get(sandboxId)?.size ?? 0;
  }

  /** Forgets one sandbox (deleted) or every sandbox (reset). */
  clear(sandboxId?: string): void {
    if (sandboxId === undefined) this.sandboxes.clear();
    else this.sandboxes.delete(sandboxId);
  }
}
