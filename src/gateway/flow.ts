import type { Socket } from 'node:net';
import type { DnsSnoopCache } from '../dns/snoop-cache.js';
import { DnsTcpFramer, snoopDnsResponse } from '../dns/snoop-response.js';
import type { PlatformDnsView } from '../dns/views.js';
import { formatHostPort, type HostPort } from '../net/host-port.js';
import type { Logger } from '../log.js';
import type { CompiledPlatform } from '../policy/platform.js';
import type { FlowClassification } from '../policy/evaluate.js';
import type { AuditLog, NetworkAuditAttributes } from './audit.js';
import type { CredentialResolver } from './credentials.js';
import type { Decider, FlowVerdict } from './decide.js';
import { DialError, dialDirect, dialViaProxy, directRoute, resolveProxyEndpoint, type DirectEgress, type ProxyEndpointPolicy, type Upstream } from './dial.js';
import { peekAndClassify } from './peek.js';
import { probeServerFirst, sameRoute, type ProbedSsh, type ServerFirstProbeDeps } from './server-first-probe.js';
import { routeCredentials, type ProxyCredentials } from './proxy-route.js';
import { dialRequestFor, failedResult, missingDestinationResult, planTcpFlow, type DialRequest, type FlowPlan } from './tcp-flow-core.js';
import { writeThrough } from '../net/direct-reads.js';
import type { ActiveFlows } from './active-flows.js';
import { joinNotes } from './emulator-note.js';
import { tcpFlowClassification } from './flow-classification.js';

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

/**
 * One intercepted TCP flow, as ctld handles it (reference §4–§6): peek and classify, decide (policy
 * before proxy), deny by closing, or audit the attempt, dial (directly or through SOCKS5 with the
 * hostname), replay the peeked bytes, relay with backpressure and audit the result. The decisions
 * are tcp-flow-core.ts's plans; this is their I/O.
 */
export async function handleTcpFlow(deps: TcpFlowDeps, input: TcpFlowInput): Promise<TcpFlowOutcome> {
  const { socket, sandboxId } = input;
  const flowId = deps.nextFlowId('tcp');
  const started = Date.now();
  socket.on('error', () => {});

  const dst = input.originalDst;
  if (!dst) {
    deps.audit.record(sandboxId, 'result', missingDestinationResult(flowId, input.sourceIp, deps.decide.policyNote(sandboxId)));
    socket.destroy();
    return { outcome: 'denied', flowId, reason: 'missing_original_dst' };
  }
  const counters = replayInitialBytes(input);
  const { classification, peeked, probe } = await classifyFlow(deps, input, dst, flowId);
  const verdict = await deps.decide.resolved({ sandboxId, sourceIp: input.sourceIp, destIp: dst.ip, destPort: dst.port, transport: 'tcp', classification });
  // The probed connection is the flow's upstream when the flow takes the route it was dialled by.
  const probed = probe && sameRoute(probe.verdict, verdict) ? probe : undefined;
  if (probe && !probed) probe.upstream.socket.destroy();

  const plan = planTcpFlow({ flowId, sourceIp: input.sourceIp, dst, classification, verdict });
  if (plan.kind === 'deny') {
    deps.audit.record(sandboxId, 'result', plan.result);
    socket.destroy();
    deps.logger.debug({ sandboxId, flowId, reason: plan.reason }, 'flow denied');
    return { outcome: 'denied', flowId, verdict, reason: plan.reason };
  }
  const ctx: FlowContext = { deps, input, attempt: plan.attempt, verdict, flowId, started, counters };
  return tracked(ctx, (onUpstream) => admitted(ctx, { plan, probed, peeked, classification }, onUpstream));
}

/**
 * Bytes an explicit ingress already read belong to the flow: put them back so they are classified
 * and relayed like the rest; the flow's byte counts start from here.
 */
function replayInitialBytes(input: TcpFlowInput): ByteBase {
  const { socket } = input;
  const initial = input.initialBytes?.length ?? 0;
  const counters: ByteBase = { read: socket.bytesRead - initial, written: socket.bytesWritten };
  if (initial) socket.unshift(input.initialBytes!);
  return counters;
}

/** Peeks and classifies the client's bytes; a flow that stays unknown may be probed as server-first. */
async function classifyFlow(deps: TcpFlowDeps, input: TcpFlowInput, dst: { ip: string; port: number }, flowId: string) {
  const { sandboxId } = input;
  const { result, peeked } = await peekAndClassify(input.socket, { firstReadTimeoutMs: deps.timeouts.firstReadMs, readTimeoutMs: deps.timeouts.readMs });
  // The same mapping as a dry run's (flow-classification.ts): one decision path for both.
  const classification: FlowClassification = tcpFlowClassification(result, () => deps.dnsSnoop?.lookup(sandboxId, dst.ip));
  // A server-first protocol (SSH waits for the server's banner) looks idle or unknown: probe the server.
  const probe =
    classification.kind === 'unknown' && deps.probesServerFirst?.(sandboxId)
      ? await probeServerFirst(serverFirstProbeDeps(deps, dst), { sandboxId, sourceIp: input.sourceIp, dst, flowId })
      : undefined;
  return { classification: probe?.classification ?? classification, peeked, probe };
}

/** Runs an admitted flow as one of its sandbox's active flows: a policy change retires it (closes both sides). */
async function tracked(ctx: FlowContext, run: (onUpstream: (s: Socket) => void) => Promise<TcpFlowOutcome>): Promise<TcpFlowOutcome> {
  let upstreamSocket: Socket | undefined;
  const untrack =
    ctx.deps.activeFlows?.add(ctx.input.sandboxId, {
      policyHash: ctx.verdict.policyHash,
      retire: () => {
        ctx.retired = true;
        ctx.input.socket.destroy();
        upstreamSocket?.destroy();
      },
    }) ?? (() => {});
  try {
    return await run((s) => (upstreamSocket = s));
  } finally {
    untrack();
  }
}

/** An allowed flow from its credentials to the end of its relay. */
async function admitted(
  ctx: FlowContext,
  { plan, probed, peeked, classification }: { plan: Extract<FlowPlan, { kind: 'dial' }>; probed: ProbedSsh | undefined; peeked: Buffer; classification: FlowClassification },
  onUpstream: (s: Socket) => void,
): Promise<TcpFlowOutcome> {
  const { deps, input, attempt } = ctx;
  const { sandboxId, socket } = input;

  // Credentials first: like ctld, a credential failure fails the flow before the proxy is contacted.
  // A probed flow's upstream is already connected with the probe's credentials.
  let credentials: ProxyCredentials | undefined;
  if (probed) Object.assign(attempt, probed.auth);
  else {
    const route = routeCredentials(deps.credentials, sandboxId, plan.verdict);
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
    upstream = probed?.upstream ?? (await dial(deps, plan.dial, credentials));
  } catch (err) {
    return fail(ctx, err instanceof DialError ? err : new DialError('upstream_connect', (err as Error).message));
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

/** Dials a plan's upstream: through the policy's SOCKS5 proxy, or directly. */
async function dial(deps: TcpFlowDeps, request: DialRequest, credentials: ProxyCredentials | undefined): Promise<Upstream> {
  if (request.route === 'proxy') {
    const { proxy, target } = request;
    const endpoint = await resolveProxyEndpoint(proxy.host, proxy.port, deps.platformDns(), deps.platform(), deps.proxyEndpoints);
    return dialViaProxy({ endpoint, label: proxy.address, target, credentials, timeoutMs: deps.timeouts.proxyMs });
  }
  return dialDirect(directEndpoint(deps, request.dst), deps.timeouts.directMs);
}

const serverFirstProbeDeps = (deps: TcpFlowDeps, dst: { ip: string; port: number }): ServerFirstProbeDeps => ({
  decide: deps.decide,
  audit: deps.audit,
  credentials: deps.credentials,
  dial: (verdict, credentials) => dial(deps, dialRequestFor(verdict, dst), credentials),
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

function directEndpoint(deps: TcpFlowDeps, dst: { ip: string; port: number }): HostPort {
  const route = directRoute(deps.platformDns(), deps.directEgress, dst);
  if (route) return route;
  throw new DialError(
    'upstream_no_route',
    `the emulator has no direct route to ${formatHostPort({ host: dst.ip, port: dst.port })} (direct egress reaches loopback and platform endpoint records only; start with --direct-egress real to dial real addresses)`,
  );
}

/** Accept-then-close, as upstream: the client sees EOF with no payload; the audit result names the step. */
function fail({ deps, input, attempt, verdict, flowId, started }: FlowContext, err: DialError, step: string = err.step): TcpFlowOutcome {
  input.socket.end();
  input.socket.destroySoon();
  deps.audit.record(input.sandboxId, 'result', failedResult(attempt, Date.now() - started, step, err));
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
function relay(ctx: FlowContext, upstream: Upstream, peeked: Buffer, serverBytes?: Buffer, tap?: (view: Buffer) => void): Promise<TcpFlowOutcome> {
  const client = ctx.input.socket;
  // Written before any closure exists, so no closure keeps the peeked bytes for the flow's lifetime.
  if (peeked.length) upstream.socket.write(peeked);
  // What a server-first probe read (the SSH banner) reaches the client before anything else.
  if (serverBytes?.length) client.write(serverBytes);
  return new Promise((resolve) => {
    const ended = relayEnds(client, upstream.socket, (failure) => resolve(finish(ctx, failure)));
    relayBytes(client, upstream, tap);
    if (client.readableEnded) ended.clientEnded(); // the client closed its side while being classified
  });
}

/**
 * How a relay ends: each side's FIN is passed on, a closed side's peer gets its FIN and is destroyed
 * if it lingers, an error closes both; `done` once both sides are closed, with the failure if any.
 */
function relayEnds(client: Socket, upstream: Socket, done: (failure: { step: string; error: string } | undefined) => void): { clientEnded: () => void } {
  let failure: { step: string; error: string } | undefined;
  let closed = 0;
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
  const onClose = (other: Socket) => () => {
    if (++closed === 2) done(failure);
    closeOther(other);
  };
  client.once('close', onClose(upstream));
  upstream.once('close', onClose(client));
  const clientEnded = (): void => void upstream.end();
  client.on('end', clientEnded);
  upstream.on('end', () => client.end());
  return { clientEnded };
}

/**
 * The bytes of a relay. Up: the client's reads (Node's own buffers) are written upstream; the client
 * pauses while upstream is full. Down: each upstream read is written to the client from the shared
 * buffer; while that write is pending, no more reads (they would overwrite it).
 */
function relayBytes(client: Socket, { socket: upstream, reads, surplus }: Upstream, tap?: (view: Buffer) => void): void {
  client.on('data', (chunk: Buffer) => {
    if (!upstream.write(chunk)) client.pause();
  });
  upstream.on('drain', () => client.resume());
  const toClient = writeThrough(client, () => upstream.resume());
  const down = tap
    ? (view: Buffer): boolean => {
        tap(view);
        return client.destroyed || toClient(view);
      }
    : (view: Buffer): boolean => client.destroyed || toClient(view);
  client.resume();
  // What the proxy sent past its SOCKS5 reply, then what was read before the direct path starts.
  for (const early of surplus?.length ? [surplus, ...reads.attach(down)] : reads.attach(down)) {
    tap?.(early);
    client.write(early);
  }
  upstream.resume();
}
