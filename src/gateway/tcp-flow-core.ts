/**
 * The TCP flow's decisions without sockets (sans-I/O, as mitmproxy's layers): a classified flow and
 * its verdict in, the audit records and the dial request out. flow.ts is the I/O shell that reads,
 * decides, dials and relays by these plans; test/unit/gateway/tcp-flow-playbook.test.ts plays them.
 */
import type { FlowClassification } from '../policy/evaluate.js';
import type { NetworkAuditAttributes } from './audit.js';
import type { FlowVerdict, ProxyTarget } from './decide.js';
import { auditProtocol } from './flow-classification.js';
import { proxyRouteAttributes, type AllowedVerdict } from './proxy-route.js';

/** What is known about a flow once it is classified and decided. */
export interface DecidedFlow {
  flowId: string;
  sourceIp?: string;
  dst: { ip: string; port: number };
  classification: FlowClassification;
  verdict: FlowVerdict;
}

/** Where an allowed flow's upstream connection goes. */
export type DialRequest =
  | { route: 'proxy'; proxy: { address: string; host: string; port: number }; target: ProxyTarget }
  | { route: 'direct'; dst: { ip: string; port: number } };

export type FlowPlan =
  /** Close the client; the one audit record is `result`. */
  | { kind: 'deny'; reason: string; result: NetworkAuditAttributes }
  /** Record `attempt` (with the credential attributes), dial `dial`, relay. */
  | { kind: 'dial'; verdict: AllowedVerdict; attempt: NetworkAuditAttributes; dial: DialRequest };

const adapterFor = (c: FlowClassification, action: string): string =>
  action === 'pass-through' || c.kind === 'unknown' ? 'tcp-pass-through' : c.appProtocol;

/** The result of a flow whose original destination interception could not tell. */
export function missingDestinationResult(flowId: string, sourceIp: string | undefined, policyNote: string | undefined): NetworkAuditAttributes {
  return {
    flow_id: flowId,
    src_ip: sourceIp,
    dest_ip: '',
    dest_port: 0,
    transport: 'tcp',
    classifier_result: 'unknown',
    action: 'deny',
    reason: 'missing_original_dst',
    outcome: 'denied',
    emulator_note: policyNote,
  };
}

/** Deny, or the attempt and the dial of an allowed flow (the policy before the proxy, reference §4-§5). */
export function planTcpFlow({ flowId, sourceIp, dst, classification, verdict }: DecidedFlow): FlowPlan {
  const base: NetworkAuditAttributes = {
    flow_id: flowId,
    src_ip: sourceIp,
    dest_ip: dst.ip,
    dest_port: dst.port,
    transport: 'tcp',
    protocol: auditProtocol(classification, 'tcp'),
    host: classification.kind === 'known' ? classification.host : undefined,
    classifier_result: classification.kind,
    action: verdict.decision.action,
    reason: verdict.verdict === 'deny' ? verdict.reason : verdict.decision.reason,
    outcome: 'accepted',
    matched_rule: verdict.decision.matchedRule,
    // The attempt and every result are made from these attributes, so each carries the note.
    emulator_note: verdict.policyNote,
  };
  if (verdict.verdict === 'deny') return { kind: 'deny', reason: verdict.reason, result: { ...base, action: 'deny', reason: verdict.reason, outcome: 'denied' } };
  const attempt: NetworkAuditAttributes = {
    ...base,
    reason: verdict.decision.reason,
    adapter: adapterFor(classification, verdict.decision.action),
    adapter_capability: 'pass-through',
    route: verdict.route,
    ...proxyRouteAttributes(verdict),
  };
  return { kind: 'dial', verdict, attempt, dial: dialRequestFor(verdict, dst) };
}

/** Where an allowed verdict dials: the policy's proxy with the CONNECT target, or the destination itself. */
export function dialRequestFor(verdict: AllowedVerdict, dst: { ip: string; port: number }): DialRequest {
  if (verdict.route === 'direct') return { route: 'direct', dst };
  return { route: 'proxy', proxy: { address: verdict.proxy.address, host: verdict.proxy.host, port: verdict.proxy.port }, target: verdict.target };
}

/** A flow that failed before relaying (credentials, dial): accepted, then closed without payload. */
export function failedResult(
  attempt: NetworkAuditAttributes,
  durationMs: number,
  step: string,
  err: { message: string; replyCode?: number; proxySource?: string },
): NetworkAuditAttributes {
  return {
    ...attempt,
    outcome: 'error',
    duration_ms: durationMs,
    egress_bytes: 0,
    ingress_bytes: 0,
    error_step: step,
    error: err.message,
    proxy_reply_code: err.replyCode,
    proxy_source: err.proxySource,
  };
}
