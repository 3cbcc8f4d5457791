/**
 * From the classifier's answer to what the gateway decides on, in one place for live flows
 * (flow.ts, udp.ts) and dry runs (dry-run.ts), so that both decide the same bytes the same way.
 */
import { classifyTcp } from '../classify/classify-tcp.js';
import { classifyUdp } from '../classify/classify-udp.js';
import type { Classification } from '../classify/protocol-match.js';
import type { FlowClassification } from '../policy/evaluate.js';
import type { UnknownReason } from '../policy/types.js';
import { sshClassification } from './server-first-probe.js';

/**
 * A TCP classification as the gateway decides on it: an ssh flow's host comes from the sandbox's
 * snooped DNS answers for the destination (reference §4), never from the bytes.
 */
export function tcpFlowClassification(result: Classification, snoopedHost: () => string | undefined): FlowClassification {
  if (result.kind === 'unknown') return { kind: 'unknown', reason: result.reason };
  if (result.appProtocol === 'ssh' && !result.host) return sshClassification(snoopedHost());
  return result.host === undefined ? { kind: 'known', appProtocol: result.appProtocol } : { kind: 'known', appProtocol: result.appProtocol, host: result.host };
}

/**
 * The bytes a client sent before waiting for an answer (then nothing more), classified as the live
 * gateway classifies them once the client stops sending: a prefix that never completes is unknown.
 */
export function classifyClientBytes(bytes: Buffer): Classification {
  if (bytes.length === 0) return { kind: 'unknown', reason: 'client_idle' };
  const result = classifyTcp(bytes, { final: true });
  return result.kind === 'need-more' ? { kind: 'unknown', reason: 'unclassified' } : result;
}

export { classifyUdp };

/**
 * The audit's `protocol` of a flow, as upstream records it (classifier.go): the classified protocol;
 * for unknown traffic the protocol the classifier recognised (`http` without a Host, `tls` without
 * SNI, `udp` for a datagram without SNI), else `unknown`.
 */
export function auditProtocol(classification: FlowClassification, transport: 'tcp' | 'udp'): string {
  if (classification.kind === 'known') return classification.appProtocol;
  return unknownProtocol(classification.reason, transport);
}

function unknownProtocol(reason: UnknownReason, transport: 'tcp' | 'udp'): string {
  if (reason === 'missing_host') return 'http';
  if (reason === 'missing_sni') return transport === 'udp' ? 'udp' : 'tls';
  return 'unknown';
}
