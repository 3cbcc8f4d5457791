/**
 * Domain patterns indexed by the string they must equal, so a lookup walks the host's label suffixes
 * (a handful of Map lookups) instead of scanning every pattern: 10,000 patterns cost what 10 do.
 *
 * Semantics are the platform's (reference §3.1): an exact pattern equals the host; a suffix pattern
 * (written `*.x`, stored as `x`) matches `x` itself and anything ending in `.x`, at any depth. Both sides
 * are compared as given: no trailing-dot stripping, so `example.com.` and `example.com` differ.
 */

export type DomainPatternKind = 'exact' | 'suffix';

export interface DomainPattern {
  /** The string compared against the host (for a suffix rule, without the leading `*.`). */
  readonly pattern: string;
  readonly kind: DomainPatternKind;
}

export interface DomainIndexEntry {
  readonly pattern: DomainPattern;
  /** Who owns the pattern (a traffic rule index); lookups report owners in ascending order. */
  readonly owner: number;
}

const DOT = '.';

function freeze(map: Map<string, number[]>): Map<string, Int32Array> {
  const out = new Map<string, Int32Array>();
  for (const [key, owners] of map) {
    const unique = [...new Set(owners)].sort((a, b) => a - b);
    out.set(key, Int32Array.from(unique));
  }
  return out;
}

export class DomainIndex {
  /** Number of patterns indexed (duplicates included). */
  readonly size: number;
  private readonly exact: Map<string, Int32Array>;
  private readonly suffix: Map<string, Int32Array>;

  constructor(entries: Iterable<DomainIndexEntry> = []) {
    const exact = new Map<string, number[]>();
    const suffix = new Map<string, number[]>();
    let size = 0;
    for (const { pattern, owner } of entries) {
      const target = pattern.kind === 'exact' ? exact : suffix;
      const owners = target.get(pattern.pattern);
      if (owners === undefined) target.set(pattern.pattern, [owner]);
      else owners.push(owner);
      size++;
    }
    this.size = size;
    this.exact = freeze(exact);
    this.suffix = freeze(suffix);
  }

  /** Does any pattern match the (already normalized) host? An empty host matches nothing. */
  matches(host: string): boolean {
    if (host === '' || this.size === 0) return false;
    if (this.exact.has(host) || this.suffix.has(host)) return true;
    if (this.suffix.size === 0) return false;
    for (let dot = host.indexOf(DOT); dot >= 0; dot = host.indexOf(DOT, dot + 1)) {
      if (this.suffix.has(host.slice(dot + 1))) return true;
    }
    return false;
  }

  /**
   * Writes into `out` the owner lists (ascending Int32Arrays) of every pattern matching the host and
   * returns how many were written. `out` is the caller's scratch array, reused across calls.
   */
  collect(host: string, out: Int32Array[]): number {
    if (host === '' || this.size === 0) return 0;
    let count = 0;
    const exact = this.exact.get(host);
    if (exact !== undefined) out[count++] = exact;
    if (this.suffix.size === 0) return count;
    const self = this.suffix.get(host);
    if (self !== undefined) out[count++] = self;
    for (let dot = host.indexOf(DOT); dot >= 0; dot = host.indexOf(DOT, dot + 1)) {
      const owners = this.suffix.get(host.slice(dot + 1));
      if (owners !== undefined) out[count++] = owners;
    }
    return count;
  }
}
