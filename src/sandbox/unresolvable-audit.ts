import type { AuditLog } from '../gateway/audit.js';
import type { Gateway } from '../gateway/gateway.js';
import type { SandboxNameResolver } from './sandbox-name-resolver.js';

/** Reason the emulator records when a flow never starts because the sandbox cannot resolve its host. */
export const sandboxResolutionFailed = 'sandbox_resolution_failed';

/** Where a flow to an unresolvable name would have entered the gateway. */
export type UnresolvableVia = 'socks5' | 'http-connect' | 'in-process' | 'udp';

/** Audits a flow that never started; returns its flow id, or undefined when folded into an earlier record. */
export type AuditUnresolvable = (sandboxId: string, host: string, port: number, via: UnresolvableVia) => string | undefined;

/** One audit event per unresolvable datagram destination (sandbox, name, port) in this window. */
const unresolvableDatagramWindowMs = 10_000;
const unresolvableDatagramKeys = 4_096;

/**
 * The audit record of a flow that never started because the sandbox cannot resolve its host. A program
 * retrying datagrams to such a name is audited once per name and port per window, not once per
 * datagram (the table is bounded).
 */
export function createUnresolvableAudit(deps: { gateway: Gateway; audit: AuditLog; resolver: SandboxNameResolver }): AuditUnresolvable {
  const { gateway, audit, resolver } = deps;
  const unresolvableDatagrams = new Map<string, number>();
  /** Whether this datagram's record folds into one written earlier in the window. */
  const folded = (key: string): boolean => {
    const now = Date.now();
    const last = unresolvableDatagrams.get(key);
    if (last !== undefined && now - last < unresolvableDatagramWindowMs) return true;
    if (unresolvableDatagrams.size >= unresolvableDatagramKeys) unresolvableDatagrams.clear();
    unresolvableDatagrams.set(key, now);
    return false;
  };
  /** With passthrough, why the host's resolver did not help (its cached failure), for notes. */
  const passthroughFailure = (sandboxId: string, host: string): string => {
    const known = resolver.lookup(sandboxId, host, 'known');
    return known && !known.ok && known.askedHost ? `: ${known.reason}` : '';
  };
  return (sandboxId, host, port, via) => {
    const transport = via === 'udp' ? 'udp' : 'tcp';
    if (transport === 'udp' && folded(`${sandboxId} ${host} ${port}`)) return undefined;
    const flowId = gateway.nextFlowId(transport);
    audit.record(sandboxId, 'result', {
      flow_id: flowId,
      dest_ip: '',
      dest_port: port,
      transport,
      host,
      classifier_result: 'unknown',
      action: 'deny',
      reason: sandboxResolutionFailed,
      outcome: 'error',
      emulator_note: `the sandbox cannot resolve ${host}${passthroughFailure(sandboxId, host)}, so the connection never started (the documented pitfall: the proxy resolves names only after a flow exists; add a sandbox hosts entry). The real platform records nothing here.`,
    });
    return flowId;
  };
}
