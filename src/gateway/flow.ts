import type { Socket } from 'node:net';
import type { DnsSnoopCache } from '../dns/snoop-cache.js';
import { DnsTcpFramer, snoopDnsResponse } from '../dns/snoop-response.js';
import { formatEndpoint, type Endpoint, type PlatformDnsView } from '../dns/views.js';
import type { Logger } from '../log.js';
import type { CompiledPlatform } from '../policy/platform.js';
import type { FlowClassification } from '../policy/evaluate.js';
import type { AuditLog, NetworkAuditAttributes } from './audit.js';
import type { CredentialResolver } from './credentials.js';
import type { Decider, FlowVerdict } from './decide.js';
import { DialError, dialDirect, dialViaProxy, directRoute, resolveProxyEndpoint, type DirectEgress, type ProxyEndpointPolicy, type Upstream } from './dial.js';
import { peekAndClassify } from './peek.js';
import { probeServerFirst, sameRoute, type ProbedSsh, type ServerFirstProbeDeps } from './server-first-probe.js';
import { proxyRouteAttributes, routeCredentials, type AllowedVerdict, type ProxyCredentials } from './proxy-route.js';
import { writeThrough } from '../net/direct-reads.js';
import type { ActiveFlows } from './active-flows.js';
import { joinNotes } from './emulator-note.js';
import { auditProtocol, tcpFlowClassification } from './flow-classification.js';

export type { DirectEgress };

export interface GatewayTimeouts {
  /** First client read (platform: 500 ms). */
  firstReadMs: number;
  /** Later reads while classifying (platform: 5 s). */
  readMs: number;
  /** Proxy connect + SOCKS5 handshake (platform's proxy_upstream_timeout: 30 s). */
  proxyMs: number;
  /** Direct upstream connect. */
  directMs: number;
}

export const defaultGatewayTimeouts: GatewayTimeouts = { firstReadMs: 500, readMs: 5_000, proxyMs: 30_000, directMs: 10_000 };

export interface TcpFlowDeps {
  decide: Decider;
  audit: AuditLog;
  credentials: CredentialResolver;
  platformDns: () => PlatformDnsView;
  platform: () => CompiledPlatform;
  proxyEndpoints: ProxyEndpointPolicy;
  directEgress: DirectEgress;
  timeouts: GatewayTimeouts;
  logger: Logger;
  nextFlowId: (transport: 'tcp' | 'udp') => string;
  /** The sandboxes' snooped DNS answers: an ssh flow's host (reference §4); DNS-over-TCP responses feed it. */
  dnsSnoop?: DnsSnoopCache;
  /** Does the sandbox's policy list appProtocol `ssh` in a trafficRule (then unknown flows are probed)? */
  probesServerFirst?: (sandboxId: string) => boolean;
  /** Allowed flows still open, closed when their sandbox's policy changes (newer upstream active_flows.go). */
  activeFlows?: ActiveFlows;
}

export interface TcpFlowInput {
  sandboxId: string;
  sourceIp?: string;
  /** What the sandbox dialled; undefined when interception could not tell (`missing_original_dst`). */
  originalDst: { ip: string; port: number } | undefined;
  socket: Socket;
  /** Bytes already read from the client by the ingress (explicit mode), replayed before the rest. */
  initialBytes?: Buffer;
}

/** The client socket's byte counters when the flow started (ingress handshakes excluded). */
interface ByteBase {
  read: number;
  written: number;
}

/** What the steps after the decision share. */
interface FlowContext {
  deps: TcpFlowDeps;
  input: TcpFlowInput;
  attempt: NetworkAuditAttributes;
  verdict: FlowVerdict;
  flowId: string;
  started: number;
  counters: ByteBase;
  /** Set when a policy change closed the flow (the policy that admitted it was replaced). */
  retired?: boolean;
}

/** Upstream's error for a flow whose admitting policy was replaced (proxy/active_flows.go errFlowRetired). */
export const flowRetiredError = 'network policy incarnation is no longer active';
/** The emulator's note on the result of a flow a policy change closed. */
export const flowRetiredNote = "closed by the gateway: the sandbox's network policy changed after this flow was admitted";

export type TcpFlowOutcome =
  | { outcome: 'denied'; flowId: string; verdict?: FlowVerdict; reason: string }
  | { outcome: 'error'; flowId: string; verdict: FlowVerdict; step: string; error: string; replyCode?: number }
  | { outcome: 'completed'; flowId: string; verdict: FlowVerdict; egressBytes: number; ingressBytes: number };

const adapterFor = (c: FlowClassification, action: string): string =>
  action === 'pass-through' || c.kind === 'unknown' ? 'tcp-pass-through' : c.appProtocol;

/**
 * One intercepted TCP flow, as ctld handles it (reference §4–§6): peek and classify, decide (policy
 * before proxy), deny by closing, or audit the attempt, dial (directly or through SOCKS5 with the
 * hostname), replay the peeked bytes, relay with backpressure and audit the result.
 */
export async function handleTcpFlow(deps: TcpFlowDeps, input: TcpFlowInput): Promise<TcpFlowOutcome> {
  const { socket, sandboxId } = input;
  const flowId = deps.nextFlowId('tcp');
  const started = Date.now();
  socket.on('error', () => {});

  if (!input.originalDst) {
    deps.audit.record(sandboxId, 'result', {
      flow_id: flowId,
      src_ip: input.sourceIp,
      dest_ip: '',
      dest_port: 0,
      transport: 'tcp',
      classifier_result: 'unknown',
      action: 'deny',
      reason: 'missing_original_dst',
      outcome: 'denied',
      emulator_note: deps.decide.policyNote(sandboxId),
    });
    socket.destroy();
    return { outcome: 'denied', flowId, reason: 'missing_original_dst' };
  }
  const dst = input.originalDst;

  // Bytes an explicit ingress already read belong to the flow: put them back so they are classified
  // and relayed like the rest, and count the flow's bytes from here.
  const initial = input.initialBytes?.length ?? 0;
  const counters: ByteBase = { read: socket.bytesRead - initial, written: socket.bytesWritten };
  if (initial) socket.unshift(input.initialBytes!);
  const { result, peeked } = await peekAndClassify(socket, { firstReadTimeoutMs: deps.timeouts.firstReadMs, readTimeoutMs: deps.timeouts.readMs });
  // The same mapping as a dry run's (flow-classification.ts): one decision path for both.
  let classification: FlowClassification = tcpFlowClassification(result, () => deps.dnsSnoop?.lookup(sandboxId, dst.ip));
  // A server-first protocol (SSH waits for the server's banner) looks idle or unknown: probe the server.
  const probe =
    classification.kind === 'unknown' && deps.probesServerFirst?.(sandboxId)
      ? await probeServerFirst(serverFirstProbeDeps(deps, dst), { sandboxId, sourceIp: input.sourceIp, dst, flowId })
      : undefined;
  if (probe) classification = probe.classification;
  const verdict = await deps.decide.resolved({ sandboxId, sourceIp: input.sourceIp, destIp: dst.ip, destPort: dst.port, transport: 'tcp', classification });
  // The probed connection is the flow's upstream when the flow takes the route it was dialled by.
  const probed = probe && sameRoute(probe.verdict, verdict) ? probe : undefined;
  if (probe && !probed) probe.upstream.socket.destroy();

  const base: NetworkAuditAttributes = {
    flow_id: flowId,
    src_ip: input.sourceIp,
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

  if (verdict.verdict === 'deny') {
    deps.audit.record(sandboxId, 'result', { ...base, action: 'deny', reason: verdict.reason, outcome: 'denied' });
    socket.destroy();
    deps.logger.debug({ sandboxId, flowId, reason: verdict.reason }, 'flow denied');
    return { outcome: 'denied', flowId, verdict, reason: verdict.reason };
  }

  const attempt: NetworkAuditAttributes = {
    ...base,
    reason: verdict.decision.reason,
    adapter: adapterFor(classification, verdict.decision.action),
    adapter_capability: 'pass-through',
    route: verdict.route,
    ...proxyRouteAttributes(verdict),
  };
  const ctx: FlowContext = { deps, input, attempt, verdict, flowId, started, counters };
  let upstreamSocket: Socket | undefined;
  const untrack =
    deps.activeFlows?.add(sandboxId, {
      policyHash: verdict.policyHash,
      retire: () => {
        ctx.retired = true;
        socket.destroy();
        upstreamSocket?.destroy();
      },
    }) ?? (() => {});
  try {
    return await admitted(ctx, { probed, peeked, classification }, (s) => (upstreamSocket = s));
  } finally {
    untrack();
  }
}

/** An allowed flow from its credentials to the end of its relay. */
async function admitted(
  ctx: FlowContext,
  { probed, peeked, classification }: { probed: ProbedSsh | undefined; peeked: Buffer; classification: FlowClassification },
  onUpstream: (s: Socket) => void,
): Promise<TcpFlowOutcome> {
  const { deps, input, attempt, verdict } = ctx;
  const { sandboxId, socket } = input;
  if (verdict.verdict !== 'allow') throw new Error('admitted() needs an allowed verdict');
  const dst = input.originalDst!;

  // Credentials first: like ctld, a credential failure fails the flow before the proxy is contacted.
  // A probed flow's upstream is already connected with the probe's credentials.
  let credentials: ProxyCredentials | undefined;
  if (probed) Object.assign(attempt, probed.auth);
  else {
    const route = routeCredentials(deps.credentials, sandboxId, verdict);
    Object.assign(attempt, route.auth);
    if (!route.ok) {
      deps.audit.record(sandboxId, 'attempt', attempt);
      return fail(ctx, new DialError('proxy_auth', route.message), 'credentials');
    }
    credentials = route.credentials;
  }
  deps.audit.record(sandboxId, 'attempt', attempt);

  let upstream: Upstream;
  try {
    upstream = probed?.upstream ?? (await dialFor(deps, verdict, dst, credentials));
  } catch (err) {
    const dialError = err instanceof DialError ? err : new DialError('upstream_connect', (err as Error).message);
    return fail(ctx, dialError);
  }
  if (upstream.source) attempt.proxy_source = upstream.source;
  onUpstream(upstream.socket);
  if (ctx.retired) {
    // A pending dial of a retired flow is cancelled (upstream: the flow's context is cancelled).
    upstream.socket.destroy();
    return finish(ctx, { step: 'policy_retired', error: flowRetiredError });
  }
  if (socket.destroyed) {
    upstream.socket.destroy();
    return finish(ctx, { step: 'relay', error: 'the client closed before the upstream connection was ready' });
  }
  return relay(ctx, upstream, peeked, probed?.serverBytes, dnsSnoopTap(deps, sandboxId, classification));
}

/** Dials an allowed flow's upstream: through the policy's SOCKS5 proxy, or directly. */
async function dialFor(deps: TcpFlowDeps, verdict: AllowedVerdict, dst: { ip: string; port: number }, credentials: ProxyCredentials | undefined): Promise<Upstream> {
  if (verdict.route === 'proxy') {
    const endpoint = await resolveProxyEndpoint(verdict.proxy.host, verdict.proxy.port, deps.platformDns(), deps.platform(), deps.proxyEndpoints);
    return dialViaProxy({ endpoint, label: verdict.proxy.address, target: verdict.target, credentials, timeoutMs: deps.timeouts.proxyMs });
  }
  return dialDirect(directEndpoint(deps, dst), deps.timeouts.directMs);
}

const serverFirstProbeDeps = (deps: TcpFlowDeps, dst: { ip: string; port: number }): ServerFirstProbeDeps => ({
  decide: deps.decide,
  audit: deps.audit,
  credentials: deps.credentials,
  dial: (verdict, credentials) => dialFor(deps, verdict, dst, credentials),
  snoopedHost: (sandboxId, ip) => deps.dnsSnoop?.lookup(sandboxId, ip),
  timeouts: deps.timeouts,
  logger: deps.logger,
});

/** A DNS-over-TCP flow's responses feed the snoop cache as they are relayed to the sandbox. */
function dnsSnoopTap(deps: TcpFlowDeps, sandboxId: string, classification: FlowClassification): ((view: Buffer) => void) | undefined {
  const cache = deps.dnsSnoop;
  if (!cache || classification.kind !== 'known' || classification.appProtocol !== 'dns') return undefined;
  const framer = new DnsTcpFramer();
  return (view) => {
    for (const message of framer.push(view)) cache.recordAnswers(sandboxId, snoopDnsResponse(message));
  };
}

function directEndpoint(deps: TcpFlowDeps, dst: { ip: string; port: number }): Endpoint {
  const route = directRoute(deps.platformDns(), deps.directEgress, dst);
  if (route) return route;
  throw new DialError(
    'upstream_no_route',
    `the emulator has no direct route to ${formatEndpoint({ host: dst.ip, port: dst.port })} (direct egress reaches loopback and platform endpoint records only; start with --direct-egress real to dial real addresses)`,
  );
}

/** Accept-then-close, as upstream: the client sees EOF with no payload; the audit result names the step. */
function fail({ deps, input, attempt, verdict, flowId, started }: FlowContext, err: DialError, step: string = err.step): TcpFlowOutcome {
  input.socket.end();
  input.socket.destroySoon();
  deps.audit.record(input.sandboxId, 'result', {
    ...attempt,
    outcome: 'error',
    duration_ms: Date.now() - started,
    egress_bytes: 0,
    ingress_bytes: 0,
    error_step: step,
    error: err.message,
    proxy_reply_code: err.replyCode,
    proxy_source: err.proxySource,
  });
  return { outcome: 'error', flowId, verdict, step, error: err.message, replyCode: err.replyCode };
}

function finish({ deps, input, attempt, verdict, flowId, started, counters, retired }: FlowContext, failure?: { step: string; error: string }): TcpFlowOutcome {
  const egressBytes = input.socket.bytesRead - counters.read;
  const ingressBytes = input.socket.bytesWritten - counters.written;
  deps.audit.record(input.sandboxId, 'result', {
    ...attempt,
    // Upstream closes a retired flow's sockets and its relay ends without error (closed-connection
    // errors are not relay failures there): a normal result; the emulator says why it ended.
    ...(retired ? { emulator_note: joinNotes(attempt.emulator_note, flowRetiredNote) } : {}),
    outcome: failure ? 'error' : 'completed',
    duration_ms: Date.now() - started,
    egress_bytes: egressBytes,
    ingress_bytes: ingressBytes,
    error_step: failure?.step,
    error: failure?.error,
  });
  return failure
    ? { outcome: 'error', flowId, verdict, step: failure.step, error: failure.error }
    : { outcome: 'completed', flowId, verdict, egressBytes, ingressBytes };
}

/** How long a side may linger after the other side closed. */
const lingerMs = 5_000;

/**
 * Replays the peeked bytes, then relays both ways with backpressure until both sides are done. The
 * upstream side (most of the bytes of a download) is read into its own reused buffer; each read is
 * written to the client at once, and reading waits while such a write is still pending.
 */
function relay(
  ctx: FlowContext,
  { socket: upstream, reads, afterHandshake }: Upstream,
  peeked: Buffer,
  serverBytes?: Buffer,
  tap?: (view: Buffer) => void,
): Promise<TcpFlowOutcome> {
  const client = ctx.input.socket;
  // Written before any closure exists, so no closure keeps the peeked bytes for the flow's lifetime.
  if (peeked.length) upstream.write(peeked);
  // What a server-first probe read (the SSH banner) reaches the client before anything else.
  if (serverBytes?.length) client.write(serverBytes);
  return new Promise((resolve) => {
    let failure: { step: string; error: string } | undefined;
    let closed = 0;
    const onClose = () => {
      if (++closed === 2) resolve(finish(ctx, failure));
    };
    const onError = (side: 'client' | 'upstream') => (err: NodeJS.ErrnoException) => {
      // A sandbox program that resets its own connection (curl exiting with unread TLS records, a
      // client abort) ended the flow itself: that is how the flow completed, not a gateway failure.
      const clientAbort = side === 'client' && (err.code === 'ECONNRESET' || err.code === 'EPIPE');
      // Likewise a write the client made after the upstream had already finished (a TLS close_notify
      // behind the server's own close) failing on the closed upstream is not a relay failure.
      const afterUpstreamEnd = side === 'upstream' && upstream.readableEnded && (err.code === 'ECONNRESET' || err.code === 'EPIPE');
      if (!clientAbort && !afterUpstreamEnd) failure ??= { step: 'relay', error: `${side} ${err.code ?? err.message}` };
      client.destroy();
      upstream.destroy();
    };
    client.on('error', onError('client'));
    upstream.on('error', onError('upstream'));
    // When one side is gone, the other gets its FIN and keeps being read (so its own close is seen);
    // it is destroyed if it lingers.
    const closeOther = (other: Socket) => {
      if (other.destroyed) return;
      other.end();
      other.resume();
      const timer = setTimeout(() => other.destroy(), lingerMs);
      timer.unref();
      other.once('close', () => clearTimeout(timer));
    };
    client.once('close', () => {
      onClose();
      closeOther(upstream);
    });
    upstream.once('close', () => {
      onClose();
      closeOther(client);
    });

    // Up: the client's reads (Node's own buffers) are written upstream; the client pauses while
    // upstream is full.
    client.on('data', (chunk: Buffer) => {
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    client.on('end', () => upstream.end());
    if (client.readableEnded) upstream.end(); // the client closed its side while being classified

    // Down: each upstream read is written to the client from the shared buffer; while that write is
    // pending, no more reads (they would overwrite it).
    const toClient = writeThrough(client, () => upstream.resume());
    const down = tap
      ? (view: Buffer): boolean => {
          tap(view);
          return client.destroyed || toClient(view);
        }
      : (view: Buffer): boolean => client.destroyed || toClient(view);
    // Reads delivered as `data` events (copies): the bytes the SOCKS5 client read past its handshake,
    // and every read until the direct path starts.
    upstream.on('data', (chunk: Buffer) => {
      tap?.(chunk);
      if (client.write(chunk)) return;
      upstream.pause();
      client.once('drain', () => upstream.resume());
    });
    const startDown = () => {
      for (const early of reads.attach(down)) {
        tap?.(early);
        client.write(early);
      }
      upstream.resume();
    };
    upstream.on('end', () => client.end());
    client.resume();
    // After a SOCKS5 handshake the client re-emits its surplus on the next turn (then resumes the
    // socket): the direct path starts after that, so no byte overtakes the surplus.
    if (afterHandshake) setImmediate(startDown);
    else startDown();
  });
}
