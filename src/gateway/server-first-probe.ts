/**
 * The server-first probe (reference §4, "Server-first protocols"): an SSH client waits for the
 * server's banner, so its flow classifies as unknown (`client_idle`). When the sandbox's policy has a
 * trafficRule listing appProtocol `ssh`, ctld records an audit attempt (protocol `ssh`, reason
 * `server_first_probe`), dials upstream as the policy's route would and reads the server's first
 * bytes with the classifier's timeouts. An `SSH-` banner reclassifies the flow as known ssh and the
 * probed connection is reused (the banner is replayed to the client); anything else leaves the flow
 * unknown and the probe connection is closed.
 *
 * The emulator dials the probe only when the flow, taken as ssh, would be allowed to dial: the same
 * decision (destination phase, domain phase, the host-local guard) that dials every allowed flow.
 * This is the socket side; the banner itself is judged by the pure `matchSsh`.
 */
import { defaultHeaderLimit } from '../classify/classify-tcp.js';
import { matchSsh } from '../classify/ssh.js';
import type { Logger } from '../log.js';
import type { FlowClassification } from '../policy/evaluate.js';
import type { AuditLog, NetworkAuditAttributes } from './audit.js';
import type { CredentialResolver } from './credentials.js';
import type { Decider, FlowVerdict } from './decide.js';
import type { Upstream } from './dial.js';
import { emitData } from '../net/direct-reads.js';
import { readUntilJudged } from './read-until-judged.js';
import { proxyRouteAttributes, routeCredentials, type AllowedVerdict, type ProxyCredentials } from './proxy-route.js';

/** The audit reason of the probe's attempt (reference §6). */
export const serverFirstProbeReason = 'server_first_probe';

/**
 * An ssh flow's classification: the host, when there is one, comes from the sandbox's snooped DNS
 * answers (never host-verified, reference §3.4).
 */
export function sshClassification(host: string | undefined): FlowClassification {
  return host ? { kind: 'known', appProtocol: 'ssh', host, hostSource: 'dns-cache' } : { kind: 'known', appProtocol: 'ssh' };
}

export interface ServerFirstProbeDeps {
  decide: Decider;
  audit: AuditLog;
  credentials: CredentialResolver;
  /** Dials as an allowed flow with this verdict would (proxy or direct). */
  dial: (verdict: AllowedVerdict, credentials: ProxyCredentials | undefined) => Promise<Upstream>;
  /** The host the sandbox's DNS answers gave this address, if any. */
  snoopedHost: (sandboxId: string, ip: string) => string | undefined;
  timeouts: { firstReadMs: number; readMs: number };
  logger: Logger;
}

export interface ServerFirstProbeInput {
  sandboxId: string;
  sourceIp?: string;
  dst: { ip: string; port: number };
  flowId: string;
}

/** A probe that saw an SSH banner: the flow is ssh, and this connection is its upstream. */
export interface ProbedSsh {
  classification: FlowClassification;
  /** The verdict the probe dialled by. */
  verdict: AllowedVerdict;
  upstream: Upstream;
  /** The server's first bytes (its banner and whatever came with it), to replay to the client. */
  serverBytes: Buffer;
  /** Credential attributes of the probe's proxy dial, for the flow's own attempt. */
  auth: Pick<NetworkAuditAttributes, 'auth_resolved' | 'auth_cache_hit'>;
}

/** Probes the destination; undefined when no probe was made or no SSH banner came (the flow stays unknown). */
export async function probeServerFirst(deps: ServerFirstProbeDeps, input: ServerFirstProbeInput): Promise<ProbedSsh | undefined> {
  const { sandboxId, dst } = input;
  const classification = sshClassification(deps.snoopedHost(sandboxId, dst.ip));
  const verdict = await deps.decide.resolved({ sandboxId, sourceIp: input.sourceIp, destIp: dst.ip, destPort: dst.port, transport: 'tcp', classification });
  if (verdict.verdict === 'deny') {
    deps.logger.debug({ sandboxId, flowId: input.flowId, reason: verdict.reason }, 'server-first probe not allowed to dial');
    return undefined;
  }

  const attempt: NetworkAuditAttributes = {
    flow_id: input.flowId,
    src_ip: input.sourceIp,
    dest_ip: dst.ip,
    dest_port: dst.port,
    transport: 'tcp',
    protocol: 'ssh',
    host: classification.kind === 'known' ? classification.host : undefined,
    classifier_result: 'unknown',
    action: verdict.decision.action,
    reason: serverFirstProbeReason,
    outcome: 'accepted',
    matched_rule: verdict.decision.matchedRule,
    route: verdict.route,
    emulator_note: verdict.policyNote,
    ...proxyRouteAttributes(verdict),
  };

  const route = routeCredentials(deps.credentials, sandboxId, verdict);
  deps.audit.record(sandboxId, 'attempt', { ...attempt, ...route.auth });
  if (!route.ok) return undefined;
  const { credentials, auth } = route;

  let upstream: Upstream;
  try {
    upstream = await deps.dial(verdict, credentials);
  } catch (err) {
    deps.logger.debug({ sandboxId, flowId: input.flowId, err: { message: (err as Error).message } }, 'server-first probe dial failed');
    return undefined;
  }
  const first = await readServerFirstBytes(upstream, deps.timeouts);
  if (first.kind !== 'ssh') {
    upstream.socket.destroy();
    return undefined;
  }
  // The surplus is part of the server bytes now: the flow's relay must not replay it again.
  return { classification, verdict, upstream: { ...upstream, surplus: undefined }, serverBytes: first.bytes, auth };
}

export type ServerFirstBytes = { kind: 'ssh'; bytes: Buffer } | { kind: 'other'; reason: 'idle' | 'timeout' | 'closed' | 'not_ssh' | 'limit' };

/**
 * Reads the server's first bytes as the classifier reads a client's (first read 500 ms, later ones
 * 5 s, 64 KiB): until they are an SSH banner or cannot become one. On an SSH banner the socket is left
 * paused with every byte read returned (a SOCKS5 handshake's surplus first), and nothing of this
 * function's left attached to it.
 */
export async function readServerFirstBytes(
  { socket, reads, surplus }: Upstream,
  { firstReadMs, readMs, headerLimit = defaultHeaderLimit }: { firstReadMs: number; readMs: number; headerLimit?: number },
): Promise<ServerFirstBytes> {
  // A direct read path is bridged to `data` events for the read loop; the flow's relay replaces it.
  const early = reads.attach(emitData(socket));
  const initial = surplus?.length ? [surplus, ...early] : early;
  const { result, bytes, excess } = await readUntilJudged<ServerFirstBytes | 'ssh'>(socket, {
    initial: initial.length === 0 ? undefined : initial.length === 1 ? initial[0] : Buffer.concat(initial),
    firstReadMs,
    readMs,
    limit: headerLimit,
    judge: (view) => {
      const match = matchSsh(view);
      if (match.kind === 'matched') return 'ssh';
      return match.kind === 'need-more' ? undefined : { kind: 'other', reason: 'not_ssh' };
    },
    full: () => ({ kind: 'other', reason: 'limit' }),
    ended: () => ({ kind: 'other', reason: 'closed' }),
    timedOut: (idle) => ({ kind: 'other', reason: idle ? 'idle' : 'timeout' }),
  });
  if (result !== 'ssh') return result;
  return { kind: 'ssh', bytes: excess.length ? Buffer.concat([bytes, excess]) : bytes };
}

/** Is the verdict the probe dialled by the route the flow's own verdict takes? Then the probe is reused. */
export function sameRoute(probed: AllowedVerdict, verdict: FlowVerdict): boolean {
  if (verdict.verdict !== 'allow' || verdict.route !== probed.route) return false;
  if (verdict.route === 'direct' || probed.route !== 'proxy') return true;
  return (
    verdict.proxy.address === probed.proxy.address &&
    verdict.proxy.credentialRef === probed.proxy.credentialRef &&
    verdict.target.host === probed.target.host &&
    verdict.target.port === probed.target.port
  );
}
