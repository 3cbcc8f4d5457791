import { isIP } from 'node:net';
import type { AppProtocol } from '../policy/types.js';
import type { FlowClassification } from '../policy/evaluate.js';
import type { Decider, ProxyTarget } from './decide.js';
import { QuicCryptoReassembler } from '../classify/quic-crypto-reassembler.js';
import { normalizeHost } from '../classify/http.js';
import { formatHostPort } from '../net/host-port.js';
import { classifyClientBytes, classifyUdp, tcpFlowClassification } from './flow-classification.js';

/** `POST /_emulator/sandboxes/{id}/evaluate` request (PRODUCT.md). */
export interface DryRunRequest {
  host?: string;
  ip?: string;
  port: number;
  transport?: 'tcp' | 'udp';
  appProtocol?: AppProtocol;
  /**
   * base64 of the bytes the program sends before it waits for an answer (TCP), or of the datagram
   * (UDP): classified exactly as the live gateway classifies them. Overrides `appProtocol`.
   */
  data?: string;
  /**
   * The name the client sends (TLS or QUIC SNI) when it is not `host` (the name it resolves); a QUIC
   * Initial (`transport: udp`) is classified by it.
   */
  sni?: string;
}

export type DryRunResult =
  | {
      flowStarts: true;
      action: 'deny' | 'pass-through' | 'use-adapter';
      reason: string;
      matchedRule?: string;
      route?: 'direct' | 'proxy';
      proxyAddress?: string;
      proxyTarget?: ProxyTarget;
      destination: { ip: string; port: number; resolvedFrom?: string };
      classification: FlowClassification;
      phase: string;
      explanation: string;
    }
  | {
      /** No connection leaves the sandbox: the name does not resolve there, so the gateway never decides. */
      flowStarts: false;
      action: 'deny';
      reason: 'sandbox_resolution_failed';
      host: string;
      explanation: string;
    };

/** Which protocol a flow to this port would most likely be classified as, when the caller does not say. */
function guessAppProtocol(port: number): AppProtocol {
  return port === 80 || port === 8080 ? 'http' : 'tls';
}

/** What the live gateway would know of the flow besides its bytes. */
export interface DryRunContext {
  /** The sandbox's own address (transparent mode): never "another sandbox", as upstream excludes the source. */
  sourceIp?: string;
  /** The sandbox's snooped DNS answers: an ssh flow's host. */
  snoopedHost?: (ip: string) => string | undefined;
  /** Whether datagrams are classified by SNI (the sandbox's policy and the platform have domain rules). */
  domainRulesExist?: () => boolean;
}

/**
 * What the gateway would classify, from the request: the bytes when given (classified exactly as a live
 * flow's, see flow-classification.ts), otherwise what a standard client sends for that protocol and
 * host: a ClientHello with the host as SNI (none for an IP literal, RFC 6066), an HTTP request with the
 * host as Host, normalised as the classifier normalises them.
 */
function requestClassification(req: DryRunRequest, ip: string, ctx: DryRunContext): FlowClassification {
  const transport = req.transport ?? 'tcp';
  const snooped = () => ctx.snoopedHost?.(ip);
  if (req.data !== undefined) {
    const bytes = Buffer.from(req.data, 'base64');
    if (transport === 'udp') {
      const result = classifyUdp(bytes, { domainRulesExist: ctx.domainRulesExist?.() ?? true, dst: formatHostPort({ host: ip, port: req.port }), reassembler: new QuicCryptoReassembler() });
      return result.kind === 'known' ? { kind: 'known', appProtocol: result.appProtocol, ...(result.host ? { host: result.host } : {}) } : { kind: 'unknown', reason: result.reason };
    }
    return tcpFlowClassification(classifyClientBytes(bytes), snooped);
  }
  if (transport === 'udp') {
    if (!(ctx.domainRulesExist?.() ?? true)) return { kind: 'known', appProtocol: 'udp' };
    const named = req.sni ?? req.host;
    return named ? { kind: 'known', appProtocol: 'udp', host: named.toLowerCase() } : { kind: 'unknown', reason: 'missing_sni' };
  }
  const app = req.appProtocol ?? (req.host ? guessAppProtocol(req.port) : undefined);
  if (!app) return { kind: 'unknown', reason: 'unclassified' };
  switch (app) {
    case 'tls': {
      const named = req.sni ?? req.host;
      const sni = named && !isIP(named) ? normalizeHost(named) : '';
      return sni ? { kind: 'known', appProtocol: 'tls', host: sni } : { kind: 'unknown', reason: 'missing_sni' };
    }
    case 'http': {
      const host = req.host ? normalizeHost(req.host) : '';
      return host ? { kind: 'known', appProtocol: 'http', host } : { kind: 'unknown', reason: 'missing_host' };
    }
    case 'dns':
      return req.host ? { kind: 'known', appProtocol: 'dns', host: req.host.toLowerCase() } : { kind: 'known', appProtocol: 'dns' };
    default:
      return tcpFlowClassification({ kind: 'known', appProtocol: app }, snooped);
  }
}

/**
 * A dry run of the gateway's decision for a flow the sandbox might open. A host without an ip is
 * resolved the way the sandbox would; the classification is what the gateway would see (see
 * requestClassification), and the decision is the live gateway's own (`decide`, from the sandbox's
 * address). A dry run never dials, so the server-first probe of unknown flows does not happen here.
 */
export function dryRun(
  decide: Decider,
  sandboxId: string,
  resolve: (host: string) => string | undefined,
  req: DryRunRequest,
  ctx: DryRunContext = {},
): DryRunResult {
  const transport = req.transport ?? 'tcp';
  let ip = req.ip;
  if (!ip) {
    ip = req.host ? resolve(req.host) : undefined;
    if (!ip) {
      // `action` is always present (scripts read `data.action`): nothing leaves the sandbox, so deny.
      return {
        flowStarts: false,
        action: 'deny',
        reason: 'sandbox_resolution_failed',
        host: req.host ?? '',
        explanation: `${req.host} does not resolve inside the sandbox, so the program cannot open a connection: no flow starts and no policy decision is made (add a sandbox hosts entry or a platform DNS record)`,
      };
    }
  }
  const classification = requestClassification(req, ip, ctx);
  const source = ctx.sourceIp ? { sourceIp: ctx.sourceIp } : {};
  const v = decide({ sandboxId, ...source, destIp: ip, destPort: req.port, transport, classification });
  let explanation = v.explanation;
  if (transport === 'udp' && v.verdict === 'deny' && !v.reason.endsWith('_not_proxied')) {
    // A QUIC/UDP flow denied where the same destination over TCP is allowed: the rule names TCP only.
    const host = classification.kind === 'known' ? classification.host : undefined;
    const tcp = decide({ sandboxId, ...source, destIp: ip, destPort: req.port, transport: 'tcp', classification: host ? { kind: 'known', appProtocol: 'tls', host } : { kind: 'unknown', reason: 'unclassified' } });
    if (tcp.verdict === 'allow') {
      explanation += `; the same destination over TCP would be allowed${tcp.decision.matchedRule ? ` by rule "${tcp.decision.matchedRule}"` : ''}: its ports name protocol tcp only, so UDP (QUIC, HTTP/3) is denied — clients fall back to TCP`;
    }
  }
  return {
    flowStarts: true,
    action: v.verdict === 'deny' ? 'deny' : v.decision.action,
    reason: v.verdict === 'deny' ? v.reason : v.decision.reason,
    ...(v.decision.matchedRule !== undefined ? { matchedRule: v.decision.matchedRule } : {}),
    ...(v.verdict === 'allow' ? { route: v.route } : {}),
    ...(v.verdict === 'allow' && v.route === 'proxy' ? { proxyAddress: v.proxy.address, proxyTarget: v.target } : {}),
    destination: { ip, port: req.port, ...(req.ip ? {} : { resolvedFrom: req.host }) },
    classification,
    phase: v.decision.phase,
    explanation,
  };
}

/**
 * `dryRun` with sandbox-side resolution that may have to wait (the host's resolver, with platform DNS
 * passthrough): the host is looked up first, and a passthrough failure's reason joins the explanation.
 */
export async function dryRunResolving(
  decide: Decider,
  sandboxId: string,
  lookup: (host: string) => Promise<{ ok: true; address: string } | { ok: false; reason: string; askedHost?: true }>,
  req: DryRunRequest,
  ctx: DryRunContext = {},
): Promise<DryRunResult> {
  if (req.ip || !req.host) return dryRun(decide, sandboxId, () => undefined, req, ctx);
  const found = await lookup(req.host);
  const result = dryRun(decide, sandboxId, () => (found.ok ? found.address : undefined), req, ctx);
  if (!result.flowStarts && !found.ok && found.askedHost) result.explanation += ` (${found.reason})`;
  return result;
}

/** What the live gateway knows of a sandbox's flows, for its dry runs (the sandbox's address, DNS answers, domain rules). */
export function dryRunContext(
  gateway: { decide: Decider; dnsSnoop: { lookup(sandboxId: string, ip: string): string | undefined } },
  runtime: { view(sandboxId: string): { address?: string } | undefined },
  sandboxId: string,
): DryRunContext {
  const sourceIp = runtime.view(sandboxId)?.address;
  return {
    ...(sourceIp ? { sourceIp } : {}),
    snoopedHost: (ip) => gateway.dnsSnoop.lookup(sandboxId, ip),
    domainRulesExist: () => gateway.decide.domainRulesExist(sandboxId),
  };
}
