import type { Socks5Atyp } from '../socks5/protocol.js';

/**
 * The test proxy's record of what it was asked and what it did, one entry per client connection. An
 * entry is added when the connection is accepted and completed as it progresses, so open connections are
 * visible too. Bounded: the oldest entries are dropped first. Never holds a password.
 */

export type AuthMethod = 'none' | 'username-password' | 'no-acceptable' | 'other';

export type CloseCause =
  | 'client-closed'
  | 'upstream-closed'
  | 'client-error'
  | 'upstream-error'
  | 'idle-timeout'
  | 'handshake-timeout'
  | 'protocol-error'
  | 'method-refused'
  | 'auth-failed'
  | 'request-failed'
  | 'fault'
  | 'proxy-stopped';

export interface ConnectionLogEntry {
  id: number;
  /** ISO time the client connected. */
  time: string;
  client: string;
  user?: string;
  /** The auth methods the client offered, in its order. */
  methods?: AuthMethod[];
  method?: AuthMethod;
  atyp?: Socks5Atyp;
  host?: string;
  port?: number;
  /** `host:port` the proxy dialled (after the customer DNS view). */
  upstream?: string;
  /** The reply code sent to the request, if one was sent. */
  replyCode?: number;
  /** `accepted`/`rejected` when username/password auth happened. */
  auth?: 'accepted' | 'rejected';
  bytesUp: number;
  bytesDown: number;
  durationMs: number;
  state: 'open' | 'closed';
  closeCause?: CloseCause;
  /** Names of faults that acted on this connection. */
  faults?: string[];
  error?: string;
}

export interface ConnectionLogFilter {
  user?: string;
  host?: string;
  atyp?: Socks5Atyp;
  replyCode?: number;
  state?: 'open' | 'closed';
  /** Only entries with an id greater than this. */
  afterId?: number;
  /** The newest `limit` entries. */
  limit?: number;
}

/** A live entry: the proxy mutates it; `snapshot()` copies it with the current duration. */
export interface LiveEntry extends ConnectionLogEntry {
  startedAt: number;
}

export class ConnectionLog {
  private entries: LiveEntry[] = [];
  private nextId = 1;

  constructor(private readonly capacity = 1000) {}

  open(client: string, now = Date.now()): LiveEntry {
    const entry: LiveEntry = {
      id: this.nextId++,
      time: new Date(now).toISOString(),
      client,
      bytesUp: 0,
      bytesDown: 0,
      durationMs: 0,
      state: 'open',
      startedAt: now,
    };
    this.entries.push(entry);
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
    return entry;
  }

  static close(entry: LiveEntry, cause: CloseCause, now = Date.now()): void {
    if (entry.state === 'closed') return;
    entry.state = 'closed';
    entry.closeCause = cause;
    entry.durationMs = now - entry.startedAt;
  }

  list(filter: ConnectionLogFilter = {}, now = Date.now()): ConnectionLogEntry[] {
    const host = filter.host?.toLowerCase();
    let out = this.entries.filter(
      (e) =>
        (filter.user === undefined || e.user === filter.user) &&
        (host === undefined || e.host?.toLowerCase() === host) &&
        (filter.atyp === undefined || e.atyp === filter.atyp) &&
        (filter.replyCode === undefined || e.replyCode === filter.replyCode) &&
        (filter.state === undefined || e.state === filter.state) &&
        (filter.afterId === undefined || e.id > filter.afterId),
    );
    if (filter.limit !== undefined) out = out.slice(Math.max(0, out.length - filter.limit));
    return out.map((e) => snapshot(e, now));
  }

  clear(): void {
    this.entries = [];
  }
}

function snapshot(entry: LiveEntry, now: number): ConnectionLogEntry {
  const { startedAt, ...rest } = entry;
  const copy: ConnectionLogEntry = { ...rest };
  if (entry.faults) copy.faults = [...entry.faults];
  if (entry.methods) copy.methods = [...entry.methods];
  if (entry.state === 'open') copy.durationMs = now - startedAt;
  return copy;
}
