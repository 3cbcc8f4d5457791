import type { CryptoFrame } from './quic-initial.js';

/**
 * Reassembles the CRYPTO stream of a QUIC connection's Initial packets across datagrams (a large
 * ClientHello spans several Initials, and frames may arrive out of order). Bounded like upstream:
 * at most `maxStreams` connections, `maxBufferBytes` of stream per connection, each entry living
 * `ttlMs` from its creation. The clock is injected for tests.
 */
export interface QuicCryptoReassemblerOptions {
  ttlMs?: number;
  maxStreams?: number;
  maxBufferBytes?: number;
  /** Frames kept per connection; bounds the work of a flood of tiny frames. */
  maxSegments?: number;
  now?: () => number;
}

interface Entry {
  expiresAt: number;
  segments: CryptoFrame[];
  bytes: number;
}

export const defaultQuicReassembly = {
  ttlMs: 20_000,
  maxStreams: 2048,
  maxBufferBytes: 256 * 1024,
  maxSegments: 512,
} as const;

/** The reassembly key: one connection's first flight, per (source, destination, original DCID). */
export function quicFlowKey(src: string, dst: string, dcid: Buffer): string {
  return `${src}|${dst}|${dcid.toString('hex')}`;
}

export class QuicCryptoReassembler {
  readonly #ttlMs: number;
  readonly #maxStreams: number;
  readonly #maxBufferBytes: number;
  readonly #maxSegments: number;
  readonly #now: () => number;
  /** Insertion order is creation order, so expiry and eviction look at the head only. */
  readonly #entries = new Map<string, Entry>();

  constructor({
    ttlMs = defaultQuicReassembly.ttlMs,
    maxStreams = defaultQuicReassembly.maxStreams,
    maxBufferBytes = defaultQuicReassembly.maxBufferBytes,
    maxSegments = defaultQuicReassembly.maxSegments,
    now = Date.now,
  }: QuicCryptoReassemblerOptions = {}) {
    this.#ttlMs = ttlMs;
    this.#maxStreams = maxStreams;
    this.#maxBufferBytes = maxBufferBytes;
    this.#maxSegments = maxSegments;
    this.#now = now;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Adds frames to a connection's stream and returns the contiguous bytes from offset 0 that are now
   * known. Frames reaching beyond the buffer limit are dropped.
   */
  add(key: string, frames: readonly CryptoFrame[]): Buffer {
    const now = this.#now();
    this.#expire(now);
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      while (this.#entries.size >= this.#maxStreams) {
        const oldest = this.#entries.keys().next().value as string;
        this.#entries.delete(oldest);
      }
      entry = { expiresAt: now + this.#ttlMs, segments: [], bytes: 0 };
      this.#entries.set(key, entry);
    }
    for (const frame of frames) {
      if (frame.data.length === 0 || frame.offset + frame.data.length > this.#maxBufferBytes) continue;
      if (entry.segments.length >= this.#maxSegments || entry.bytes + frame.data.length > this.#maxBufferBytes) break;
      // Copy: the frame views a decrypted packet we do not want to keep alive wholesale.
      entry.segments.push({ offset: frame.offset, data: Buffer.from(frame.data) });
      entry.bytes += frame.data.length;
    }
    return contiguousPrefix(entry.segments);
  }

  has(key: string): boolean {
    const entry = this.#entries.get(key);
    return entry !== undefined && entry.expiresAt > this.#now();
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  #expire(now: number): void {
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt > now) break;
      this.#entries.delete(key);
    }
  }
}

/** The stream bytes from offset 0 up to the first gap; overlapping frames are tolerated. */
export function contiguousPrefix(frames: readonly CryptoFrame[]): Buffer {
  const sorted = frames.length > 1 ? [...frames].sort((a, b) => a.offset - b.offset) : frames;
  const parts: Buffer[] = [];
  let end = 0;
  for (const f of sorted) {
    if (f.offset > end) break;
    const fEnd = f.offset + f.data.length;
    if (fEnd <= end) continue;
    parts.push(f.data.subarray(end - f.offset));
    end = fEnd;
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, end);
}
