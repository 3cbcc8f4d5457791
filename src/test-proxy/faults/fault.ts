import { z } from 'zod';
import type { Socks5Request } from '../../socks5/protocol.js';
import type { CloseHow } from '../../socks5/server-handshake.js';

/**
 * Faults, Toxiproxy-shaped: every fault has the wire shape `{ name, type, toxicity, attributes, match }`
 * and is implemented by one `FaultKind` (one file each) registered by its `type`. A kind is pure: given
 * its attributes and what the proxy knows so far, it returns an effect the proxy carries out.
 */

/** The points of a connection where faults are consulted, in order. */
export type FaultPhase = 'greeting' | 'auth' | 'request' | 'relay';

/** Which relayed bytes an effect counts or slows: `up` = client → destination. */
export type Direction = 'up' | 'down' | 'both';

export type FaultEffect =
  | { kind: 'delay'; ms: number }
  | { kind: 'refuse-methods' }
  | { kind: 'reject-auth' }
  | { kind: 'reply'; code: number }
  | { kind: 'close'; how: CloseHow }
  | { kind: 'fragment'; gapMs: number }
  | { kind: 'throttle'; bytesPerSecond: number; direction: Direction }
  | { kind: 'reset-after'; bytes: number; direction: Direction };

/** What the proxy knows at a phase: the user from `auth` on, the request from `request` on. */
export interface FaultContext {
  phase: FaultPhase;
  user?: string;
  request?: Socks5Request;
}

export interface FaultKind<A = unknown> {
  readonly type: string;
  /** One line for humans (OpenAPI, `proxy serve --help`). */
  readonly summary: string;
  /** Validates and fills defaults; error messages go back to API clients as they are. */
  readonly attributes: z.ZodType<A>;
  effect(attributes: A, context: FaultContext): FaultEffect | undefined;
}

export function defineFault<A>(kind: FaultKind<A>): FaultKind<A> {
  return kind;
}

export const faultMatchSchema = z
  .object({
    user: z.string().min(1).optional(),
    /** Exact name or IP (case-insensitive), or `*.suffix`. */
    host: z.string().min(1).optional(),
    port: z.number().int().min(0).max(65535).optional(),
  })
  .strict();
export type FaultMatch = z.infer<typeof faultMatchSchema>;

/** The serializable definition a client sends and the admin API returns. */
export interface FaultDefinition {
  name: string;
  type: string;
  /** Probability (0..1) that the fault applies to a connection, drawn once per connection. */
  toxicity: number;
  attributes: Record<string, unknown>;
  match: FaultMatch;
}

export const directionSchema = z.enum(['up', 'down', 'both']);

/**
 * A `match` field constrains what it names; a field the proxy does not know yet at a phase (the user
 * before auth, the host before the request) does not match, so such a fault waits for a later phase.
 */
export function matches(match: FaultMatch, context: FaultContext): boolean {
  if (match.user !== undefined && context.user !== match.user) return false;
  if (match.host !== undefined) {
    const host = context.request?.address.host.toLowerCase();
    if (host === undefined) return false;
    const want = match.host.toLowerCase();
    if (want.startsWith('*.') ? !host.endsWith(want.slice(1)) : host !== want) return false;
  }
  if (match.port !== undefined && context.request?.address.port !== match.port) return false;
  return true;
}
