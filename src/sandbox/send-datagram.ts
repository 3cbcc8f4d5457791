import net from 'node:net';
import { EmulatorError } from '../errors.js';
import type { UdpRejectReason } from '../gateway/decide.js';
import type { Gateway } from '../gateway/gateway.js';
import { isUdpRejection } from '../gateway/udp.js';
import type { Store } from '../store/db.js';
import { targetAddress, type SandboxNameResolver } from './sandbox-name-resolver.js';
import { sandboxResolutionFailed, type AuditUnresolvable } from './unresolvable-audit.js';

/** One UDP datagram sent from a sandbox's position (`emulator.sandbox(id).sendDatagram(...)`). */
export interface DatagramTarget {
  /** Resolved as the sandbox would: its hosts entries, then the platform DNS view. Ignored when `ip` is given. */
  host?: string;
  ip?: string;
  port: number;
  /** The datagram's payload (classified as the gateway classifies any datagram: QUIC Initial SNI, DNS query). */
  data: Buffer | Uint8Array;
  /** How long to wait for the first reply once the datagram was sent (default 1000 ms; 0: do not wait). */
  timeoutMs?: number;
}

/**
 * What became of a datagram sent with `sendDatagram`; every outcome but a suppressed `unresolvable`
 * carries the `flowId` of its audit events (`emulator.flows()`).
 * - `sent`: allowed and sent directly (no proxy, or `--udp-egress direct`); `reply` is the first
 *   datagram back within `timeoutMs`, if any. The `attempt` event is written now; the session's
 *   `result` when it has been idle for 30 s, or when the sandbox is detached or the emulator stops.
 * - `rejected`: allowed by the policy, but a proxy is configured and UDP is never proxied
 *   (`udp_not_proxied`, or `quic_not_proxied` for a QUIC Initial with SNI).
 * - `denied`: the policy (or the host-local guard) denied it; `reason` as in the audit (`l4_denied`, ...).
 * - `dropped`: allowed, but it could not be sent: `upstream_no_route` (direct egress has no route to
 *   the destination) or `internal_error`.
 * - `unresolvable`: the sandbox cannot resolve `host`, so nothing was sent (the documented pitfall).
 *   Audited once per name and port per 10 s window, like a program's retries: `flowId` is absent
 *   when this datagram's record was folded into an earlier one.
 */
export type DatagramResult =
  | { outcome: 'sent'; flowId: string; reply?: Buffer }
  | { outcome: 'rejected'; reason: UdpRejectReason; flowId: string }
  | { outcome: 'denied'; reason: string; flowId: string }
  | { outcome: 'dropped'; reason: string; flowId: string }
  | { outcome: 'unresolvable'; reason: typeof sandboxResolutionFailed; host: string; flowId?: string };

/** How long `sendDatagram` waits for a reply unless told. */
export const defaultDatagramReplyTimeoutMs = 1_000;

export type SendDatagram = (sandboxId: string, datagram: DatagramTarget) => Promise<DatagramResult>;

/** Throws `invalid_datagram` for a target no program could send to. */
function validateDatagram(target: DatagramTarget, timeoutMs: number): void {
  const { port, data } = target;
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new EmulatorError('invalid_datagram', `sendDatagram: port must be an integer from 1 to 65535, got ${port}`);
  if (!(data instanceof Uint8Array)) throw new EmulatorError('invalid_datagram', 'sendDatagram: data must be a Buffer or Uint8Array');
  if (!(timeoutMs >= 0)) throw new EmulatorError('invalid_datagram', `sendDatagram: timeoutMs must be a non-negative number, got ${timeoutMs}`);
  if (target.ip !== undefined && !net.isIP(target.ip)) throw new EmulatorError('invalid_datagram', `sendDatagram: ip must be an IP address, got ${target.ip}`);
}

/** The first reply within `timeoutMs`, if any. */
async function firstReplyWithin(firstReply: Promise<Buffer>, timeoutMs: number): Promise<Buffer | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const reply = await Promise.race([firstReply, new Promise<undefined>((res) => (timer = setTimeout(() => res(undefined), timeoutMs)))]);
  clearTimeout(timer);
  return reply;
}

/**
 * In-process interception for UDP: one datagram through the gateway's UDP path as the sandbox's. Each
 * call is a datagram from a source of its own, so its session (and its reply) is never shared with
 * another call's.
 */
export function createDatagramSender(deps: { store: Store; gateway: Gateway; resolver: SandboxNameResolver; unresolvable: AuditUnresolvable }): SendDatagram {
  const { store, gateway, resolver, unresolvable } = deps;
  let datagramSources = 0;
  return async (sandboxId, target) => {
    if (!store.sandboxes.get(sandboxId)) throw new EmulatorError('sandbox_not_found', `sandbox ${sandboxId} not found`);
    const { host, port, data, timeoutMs = defaultDatagramReplyTimeoutMs } = target;
    validateDatagram(target, timeoutMs);
    const { ip } = await targetAddress(resolver, sandboxId, target);
    if (!ip) {
      if (!host) throw new EmulatorError('invalid_datagram', 'sendDatagram needs a host or an ip');
      const flowId = unresolvable(sandboxId, host, port, 'udp');
      return { outcome: 'unresolvable', reason: sandboxResolutionFailed, host, ...(flowId ? { flowId } : {}) };
    }
    let replied: (reply: Buffer) => void = () => {};
    const firstReply = new Promise<Buffer>((res) => (replied = res));
    const out = gateway.udp.handle({
      sandboxId,
      source: `in-process:${++datagramSources}`,
      originalDst: { ip, port },
      // A copy: the caller may reuse its buffer while the datagram is still queued.
      payload: Buffer.from(data),
      reply: (reply) => replied(reply),
    });
    if (out.outcome === 'denied') return isUdpRejection(out.reason) ? { outcome: 'rejected', reason: out.reason, flowId: out.flowId } : { outcome: 'denied', reason: out.reason, flowId: out.flowId };
    if (out.outcome === 'dropped') return { outcome: 'dropped', reason: out.reason, flowId: out.flowId };
    const reply = await firstReplyWithin(firstReply, timeoutMs);
    return { outcome: 'sent', flowId: out.flowId, ...(reply ? { reply } : {}) };
  };
}
