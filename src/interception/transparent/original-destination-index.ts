import { flowKey, type ConntrackEntry, type ConntrackProtocol } from './conntrack-line.js';
import type { OriginalDestination } from '../namespace-backend.js';

/**
 * Original destinations indexed by the flow's peer as the redirected socket sees it (protocol, ip,
 * port; see ConntrackEntry.peer), fed by conntrack NEW events.
 * Lookups that arrive before their event wait a bounded time. Memory is bounded: entries expire after
 * `ttlMs` and the oldest are evicted beyond `maxEntries`.
 */
export interface OriginalDestinationIndexOptions {
  ttlMs?: number;
  maxEntries?: number;
  maxWaiters?: number;
  now?: () => number;
}

interface Entry {
  destination: OriginalDestination;
  expiresAt: number;
}

interface Waiter {
  resolve(d: OriginalDestination | undefined): void;
  timer: NodeJS.Timeout;
}

export class OriginalDestinationIndex {
  private readonly entries = new Map<string, Entry>();
  private readonly waiters = new Map<string, Waiter[]>();
  private waiterCount = 0;
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly maxWaiters: number;
  private readonly now: () => number;

  constructor({ ttlMs = 60_000, maxEntries = 200_000, maxWaiters = 50_000, now = Date.now }: OriginalDestinationIndexOptions = {}) {
    this.ttlMs = ttlMs;
    this.maxEntries = maxEntries;
    this.maxWaiters = maxWaiters;
    this.now = now;
  }

  get size(): number {
    return this.entries.size;
  }

  add(entry: ConntrackEntry): void {
    const key = flowKey(entry.protocol, entry.peer.ip, entry.peer.port);
    const destination = { ip: entry.destination.ip, port: entry.destination.port };
    // Re-inserting moves the key to the end of the Map's order, which is the eviction order.
    this.entries.delete(key);
    this.entries.set(key, { destination, expiresAt: this.now() + this.ttlMs });
    this.evict();
    const pending = this.waiters.get(key);
    if (pending) {
      this.waiters.delete(key);
      this.waiterCount -= pending.length;
      for (const w of pending) {
        clearTimeout(w.timer);
        w.resolve(destination);
      }
    }
  }

  /** The destination if already known (and not expired). `consume` removes it (one TCP accept per entry). */
  peek(protocol: ConntrackProtocol, ip: string, port: number, consume = false): OriginalDestination | undefined {
    const key = flowKey(protocol, ip, port);
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    if (consume) this.entries.delete(key);
    else e.expiresAt = this.now() + this.ttlMs;
    return e.destination;
  }

  /** Waits up to `timeoutMs` for the entry. */
  lookup(protocol: ConntrackProtocol, ip: string, port: number, { timeoutMs = 200, consume = false } = {}): Promise<OriginalDestination | undefined> {
    const found = this.peek(protocol, ip, port, consume);
    if (found || timeoutMs <= 0 || this.waiterCount >= this.maxWaiters) return Promise.resolve(found);
    const key = flowKey(protocol, ip, port);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        resolve: (d) => {
          if (d && consume) this.entries.delete(key);
          resolve(d);
        },
        timer: setTimeout(() => {
          const list = this.waiters.get(key);
          if (list) {
            const i = list.indexOf(waiter);
            if (i >= 0) {
              list.splice(i, 1);
              this.waiterCount--;
            }
            if (list.length === 0) this.waiters.delete(key);
          }
          resolve(undefined);
        }, timeoutMs),
      };
      waiter.timer.unref();
      const list = this.waiters.get(key);
      if (list) list.push(waiter);
      else this.waiters.set(key, [waiter]);
      this.waiterCount++;
    });
  }

  /** Drops expired entries; bounded work per call. */
  sweep(maxVisited = 10_000): void {
    const now = this.now();
    let visited = 0;
    for (const [key, e] of this.entries) {
      if (visited++ >= maxVisited) break;
      if (e.expiresAt <= now) this.entries.delete(key);
    }
  }

  /** Resolves every pending lookup with undefined and forgets everything. */
  clear(): void {
    for (const list of this.waiters.values()) {
      for (const w of list) {
        clearTimeout(w.timer);
        w.resolve(undefined);
      }
    }
    this.waiters.clear();
    this.waiterCount = 0;
    this.entries.clear();
  }

  private evict(): void {
    let excess = this.entries.size - this.maxEntries;
    for (const key of this.entries.keys()) {
      if (excess-- <= 0) break;
      this.entries.delete(key);
    }
  }
}
