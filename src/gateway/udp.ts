import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import { classifyUdp, type QuicCryptoReassembler } from '../classify/index.js';
import type { DnsSnoopCache } from '../dns/snoop-cache.js';
import { snoopDnsResponse } from '../dns/snoop-response.js';
import type { PlatformDnsView } from '../dns/views.js';
import { formatHostPort } from '../net/host-port.js';
import type { Logger } from '../log.js';
import type { FlowClassification } from '../policy/evaluate.js';
import type { CompiledPlatform } from '../policy/platform.js';
import type { AuditLog, NetworkAuditAttributes } from './audit.js';
import type { Decider, UdpRejectReason } from './decide.js';
import { directRoute, type DirectEgress } from './dial.js';
import { joinNotes, noteOf } from './emulator-note.js';
import { auditProtocol } from './flow-classification.js';

/** An allowed UDP 4-tuple session ends after this much silence (platform: 30 s). */
export const udpSessionIdleMs = 30_000;

/** Replies from this port are DNS answers the sandbox receives: the snoop cache reads them (reference §4). */
export const dnsPort = 53;

export interface DatagramInput {
  sandboxId: string;
  sourceIp?: string;
  /** `ip:port` of the sandbox side (the session key). */
  source: string;
  originalDst: { ip: string; port: number } | undefined;
  payload: Buffer;
  /** Sends a datagram back to the sandbox as if from `from`. */
  reply: (data: Buffer, from: { ip: string; port: number }) => void;
}

/**
 * Is this denial the emulator's UDP rejection (a proxy is configured and UDP is never proxied) rather
 * than the policy's? Both are `denied` outcomes of `handle`; callers that report them apart ask here.
 */
export const isUdpRejection = (reason: string): reason is UdpRejectReason => reason === 'udp_not_proxied' || reason === 'quic_not_proxied';

export type DatagramOutcome = { outcome: 'denied'; reason: string; flowId: string } | { outcome: 'forwarded'; flowId: string; newSession: boolean } | { outcome: 'dropped'; reason: string; flowId: string };

/** The query name when the payload is a DNS query (for the audit only; classification stays upstream's). */
function dnsQueryName(payload: Buffer): string | undefined {
  try {
    const p = dnsPacket.decode(payload);
    return p.type === 'query' && p.questions?.[0]?.name ? p.questions[0].name.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}

interface Session {
  flowId: string;
  socket: dgram.Socket;
  attempt: NetworkAuditAttributes;
  started: number;
  egress: number;
  ingress: number;
  timer: NodeJS.Timeout;
}

export interface UdpHandlerDeps {
  decide: Decider;
  audit: AuditLog;
  platformDns: () => PlatformDnsView;
  platform: () => CompiledPlatform;
  directEgress: DirectEgress;
  reassembler: QuicCryptoReassembler;
  logger: Logger;
  nextFlowId: () => string;
  idleMs?: number;
  /** Fed with the DNS answers relayed back to sandboxes (UDP replies from port 53). */
  dnsSnoop?: DnsSnoopCache;
}

export interface UdpHandler {
  /** Never throws: a datagram that cannot be handled is dropped and logged (input comes from sockets). */
  handle(input: DatagramInput): DatagramOutcome;
  /** Ends every session of a sandbox (or all), writing their results (with `note`, when given). */
  close(sandboxId?: string, note?: string): void;
  sessions(): number;
}

/**
 * UDP from sandboxes (reference §3.6, §6): each datagram is classified (QUIC Initial SNI) and decided;
 * a denied datagram gets its own `result` event. With a proxy configured the emulator rejects UDP
 * (`udp_not_proxied` / `quic_not_proxied`): it is never proxied. An allowed 4-tuple is a session with
 * one `attempt` and one `result` when it goes idle; it is sent directly (only where direct egress may go).
 */
export function createUdpHandler(deps: UdpHandlerDeps): UdpHandler {
  const sessions = new UdpSessions(deps);
  return {
    handle: (input) => {
      try {
        return sessions.handle(input);
      } catch (err) {
        deps.logger.error({ sandboxId: input.sandboxId, err: { message: (err as Error).message } }, 'udp datagram failed unexpectedly');
        return { outcome: 'dropped', reason: 'internal_error', flowId: '' };
      }
    },
    close: (sandboxId, note) => sessions.close(sandboxId, note),
    sessions: () => sessions.size,
  };
}

/** The audit attributes every event of a datagram's flow starts from (denied until decided otherwise). */
function datagramBase(input: DatagramInput, flowId: string, classification: FlowClassification, queryName: string | undefined): NetworkAuditAttributes {
  const dst = input.originalDst;
  return {
    flow_id: flowId,
    src_ip: input.sourceIp,
    dest_ip: dst?.ip ?? '',
    dest_port: dst?.port ?? 0,
    transport: 'udp',
    protocol: dst ? auditProtocol(classification, 'udp') : 'unknown',
    host: classification.kind === 'known' ? classification.host : queryName,
    classifier_result: classification.kind,
    action: 'deny',
    reason: '',
    outcome: 'denied',
    ...(queryName && classification.kind === 'unknown' ? { emulator_note: `DNS query for ${queryName}` } : {}),
  };
}

/** The allowed UDP 4-tuples, each a session until it goes idle. */
class UdpSessions {
  private readonly sessions = new Map<string, Session>();
  private readonly idleMs: number;

  constructor(private readonly deps: UdpHandlerDeps) {
    this.idleMs = deps.idleMs ?? udpSessionIdleMs;
  }

  get size(): number {
    return this.sessions.size;
  }

  close(sandboxId?: string, note?: string): void {
    for (const [key] of [...this.sessions]) if (!sandboxId || key.startsWith(`${sandboxId}|`)) this.end(key, key.slice(0, key.indexOf('|')), note);
  }

  handle(input: DatagramInput): DatagramOutcome {
    const { deps } = this;
    const dst = input.originalDst;
    const key = `${input.sandboxId}|${input.source}|${dst ? formatHostPort({ host: dst.ip, port: dst.port }) : '?'}`;
    const existing = this.sessions.get(key);
    if (existing) {
      existing.egress += input.payload.length;
      existing.timer.refresh();
      const target = dst && this.directEndpoint(dst);
      if (target) existing.socket.send(input.payload, target.port, target.host);
      return { outcome: 'forwarded', flowId: existing.flowId, newSession: false };
    }
    const flowId = deps.nextFlowId();
    // Upstream's udpSNIClassifier asks HasDomainRules of the sandbox's compiled policy (platform rules
    // included): with no policy there are none and a datagram is plain `udp`.
    const result = classifyUdp(input.payload, { domainRulesExist: deps.decide.domainRulesExist(input.sandboxId), dst: dst ? formatHostPort({ host: dst.ip, port: dst.port }) : null, src: input.source, reassembler: deps.reassembler });
    const classification: FlowClassification = result.kind === 'known' ? { kind: 'known', appProtocol: result.appProtocol, host: result.host } : { kind: 'unknown', reason: result.reason };
    const base = datagramBase(input, flowId, classification, dnsQueryName(input.payload));
    if (!dst) {
      deps.audit.record(input.sandboxId, 'result', { ...base, reason: 'missing_original_dst', ...noteOf(joinNotes(base.emulator_note, deps.decide.policyNote(input.sandboxId))) });
      return { outcome: 'denied', reason: 'missing_original_dst', flowId };
    }
    const verdict = deps.decide({ sandboxId: input.sandboxId, sourceIp: input.sourceIp, destIp: dst.ip, destPort: dst.port, transport: 'udp', classification });
    // The policy fields the emulator does not enforce are named on every event of the flow.
    Object.assign(base, noteOf(joinNotes(base.emulator_note, verdict.policyNote)));
    if (verdict.verdict === 'deny') {
      deps.audit.record(input.sandboxId, 'result', { ...base, reason: verdict.reason, matched_rule: verdict.decision.matchedRule, ...noteOf(joinNotes(base.emulator_note, isUdpRejection(verdict.reason) ? verdict.explanation : undefined)) });
      return { outcome: 'denied', reason: verdict.reason, flowId };
    }
    const attempt: NetworkAuditAttributes = { ...base, action: verdict.decision.action, reason: verdict.decision.reason, outcome: 'accepted', adapter: verdict.decision.action === 'pass-through' ? 'udp-pass-through' : 'udp', route: 'direct', matched_rule: verdict.decision.matchedRule };
    const target = this.directEndpoint(dst);
    deps.audit.record(input.sandboxId, 'attempt', attempt);
    if (!target) {
      deps.audit.record(input.sandboxId, 'result', { ...attempt, outcome: 'error', error_step: 'upstream_no_route', error: `the emulator has no direct route to ${formatHostPort({ host: dst.ip, port: dst.port })}` });
      return { outcome: 'dropped', reason: 'upstream_no_route', flowId };
    }
    this.open(key, input, dst, target, { flowId, attempt });
    return { outcome: 'forwarded', flowId, newSession: true };
  }

  private directEndpoint(dst: { ip: string; port: number }) {
    return directRoute(this.deps.platformDns(), this.deps.directEgress, dst);
  }

  /** A new session: its own socket to the target, replies relayed back (DNS answers snooped). */
  private open(key: string, input: DatagramInput, dst: { ip: string; port: number }, target: { host: string; port: number }, flow: { flowId: string; attempt: NetworkAuditAttributes }): void {
    const socket = dgram.createSocket(target.host.includes(':') ? 'udp6' : 'udp4');
    const session: Session = {
      ...flow,
      socket,
      started: Date.now(),
      egress: input.payload.length,
      ingress: 0,
      timer: setTimeout(() => this.end(key, input.sandboxId), this.idleMs),
    };
    session.timer.unref();
    this.sessions.set(key, session);
    socket.on('error', () => this.end(key, input.sandboxId));
    socket.on('message', (msg) => {
      session.ingress += msg.length;
      session.timer.refresh();
      if (dst.port === dnsPort) this.deps.dnsSnoop?.recordAnswers(input.sandboxId, snoopDnsResponse(msg));
      input.reply(msg, dst);
    });
    socket.send(input.payload, target.port, target.host);
  }

  private end(key: string, sandboxId: string, note?: string): void {
    const s = this.sessions.get(key);
    if (!s) return;
    this.sessions.delete(key);
    clearTimeout(s.timer);
    s.socket.close();
    this.deps.audit.record(sandboxId, 'result', {
      ...s.attempt,
      outcome: 'completed',
      duration_ms: Date.now() - s.started,
      egress_bytes: s.egress,
      ingress_bytes: s.ingress,
      ...noteOf(joinNotes(s.attempt.emulator_note, note)),
    });
  }
}
