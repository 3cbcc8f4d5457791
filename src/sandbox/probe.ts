import { isIP } from 'node:net';
import { dryRun, dryRunContext, dryRunResolving, type DryRunRequest, type DryRunResult } from '../gateway/dry-run.js';
import type { Gateway } from '../gateway/gateway.js';
import { httpGet, tlsClientHello } from '../gateway/probe-payloads.js';
import { quicInitial } from '../gateway/quic-initial-payload.js';
import type { TestProxy } from '../test-proxy/proxy.js';
import type { SandboxRuntime } from './runtime.js';

/** `POST /_emulator/sandboxes/{id}/probe` (PRODUCT.md). */
export interface ProbeRequest extends DryRunRequest {
  send: 'tls-client-hello' | 'http-get' | 'quic-initial' | 'raw';
  /** base64, for `raw`. */
  data?: string;
  /** ALPN protocols the TLS ClientHello or QUIC Initial offers (defaults: h2, http/1.1 for TLS; h3 for QUIC). */
  alpn?: string[];
  /** How long to wait for bytes back before closing (default 2 s, at most 30 s). */
  timeoutMs?: number;
}

export interface ProbeResult {
  decision: DryRunResult;
  outcome: 'completed' | 'denied' | 'rejected' | 'error';
  error?: string;
  errorStep?: string;
  proxySaw?: { atyp?: string; host?: string; port?: number; user?: string; replyCode?: number };
  /** base64 of the first bytes that came back (at most 4 KiB). */
  received?: string;
  flowId?: string;
}

const maxReceived = 4096;
/** The name a TLS or QUIC client would send: `sni` when given, else `host` unless it is an IP literal. */
const serverName = (req: ProbeRequest): string | undefined => req.sni ?? (req.host && !isIP(req.host) ? req.host : undefined);

/**
 * A real flow from the sandbox's position (in-process interception), reported: the dry-run decision,
 * what happened, what the embedded proxy saw, and the first bytes back.
 */
export async function runProbe(deps: { runtime: SandboxRuntime; gateway: Gateway; proxy?: TestProxy }, sandboxId: string, req: ProbeRequest): Promise<ProbeResult> {
  const { runtime, gateway, proxy } = deps;
  const transport = req.send === 'quic-initial' ? 'udp' : (req.transport ?? 'tcp');
  // Resolved from the sandbox first: a name it cannot resolve starts no flow.
  const resolved = await dryRunResolving(gateway.decide, sandboxId, (h) => runtime.lookup(sandboxId, h), { ...req, transport, ...(req.send === 'tls-client-hello' || req.send === 'quic-initial' ? { sni: serverName(req) } : {}) });
  if (!resolved.flowStarts) return { decision: resolved, outcome: 'error', error: resolved.explanation, errorStep: 'sandbox_resolution' };
  let payload: Buffer;
  switch (req.send) {
    case 'tls-client-hello':
      payload = await tlsClientHello(serverName(req), req.alpn);
      break;
    case 'http-get':
      payload = httpGet(req.host ?? resolved.destination.ip);
      break;
    case 'quic-initial':
      payload = await quicInitial(serverName(req), req.alpn);
      break;
    default:
      payload = Buffer.from(req.data ?? '', 'base64');
  }

  // The decision is the dry run of exactly the bytes the probe sends (one decision path with the live flow).
  const decision = dryRun(gateway.decide, sandboxId, () => resolved.destination.ip, { ...req, transport, data: payload.toString('base64') }, dryRunContext(gateway, runtime, sandboxId));
  if (!decision.flowStarts) throw new Error('a resolved probe must start a flow');
  const timeoutMs = Math.min(req.timeoutMs ?? 2_000, 30_000);
  const lastProxyEntry = proxy?.connections.list({ limit: 1 })[0]?.id ?? 0;
  const proxySaw = () => {
    const entry = proxy?.connections.list({ afterId: lastProxyEntry })[0];
    return entry ? { atyp: entry.atyp, host: entry.host, port: entry.port, user: entry.user, replyCode: entry.replyCode } : undefined;
  };

  if (transport === 'udp') {
    const replies: Buffer[] = [];
    const out = gateway.udp.handle({
      sandboxId,
      source: `probe:${Date.now()}`,
      originalDst: { ip: decision.destination.ip, port: req.port },
      payload,
      reply: (d) => replies.push(d),
    });
    if (out.outcome === 'denied') return { decision, outcome: out.reason.endsWith('_not_proxied') ? 'rejected' : 'denied', flowId: out.flowId };
    if (out.outcome === 'dropped') return { decision, outcome: 'error', error: out.reason, flowId: out.flowId };
    await new Promise((r) => setTimeout(r, Math.min(timeoutMs, 500)).unref());
    return { decision, outcome: 'completed', flowId: out.flowId, ...(replies.length ? { received: Buffer.concat(replies).subarray(0, maxReceived).toString('base64') } : {}) };
  }

  const { socket, flow } = await runtime.connectFlow(sandboxId, { ip: decision.destination.ip, port: req.port });
  const chunks: Buffer[] = [];
  let size = 0;
  let settle: NodeJS.Timeout | undefined;
  socket.on('data', (d: Buffer) => {
    if (size < maxReceived) chunks.push(d);
    size += d.length;
    // The first answer is what a probe reports; give the rest of it a moment, then hang up.
    settle ??= setTimeout(() => socket.end(), 200).unref();
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(payload);
  const timer = setTimeout(() => socket.end(), timeoutMs);
  timer.unref();
  await Promise.race([closed, flow]);
  socket.end();
  socket.destroySoon();
  const outcome = await flow;
  clearTimeout(timer);
  if (settle) clearTimeout(settle);
  const received = chunks.length ? Buffer.concat(chunks).subarray(0, maxReceived).toString('base64') : undefined;
  const saw = proxySaw();
  const common = { decision, flowId: outcome?.flowId, ...(saw ? { proxySaw: saw } : {}), ...(received ? { received } : {}) };
  if (!outcome) return { ...common, outcome: 'error', error: 'the gateway failed unexpectedly (see the log)' };
  if (outcome.outcome === 'denied') return { ...common, outcome: 'denied' };
  if (outcome.outcome === 'error') return { ...common, outcome: 'error', error: outcome.error, errorStep: outcome.step };
  return { ...common, outcome: 'completed' };
}
