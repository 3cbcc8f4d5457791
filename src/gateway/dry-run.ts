import { isIP } from 'node:net';
import type { AppProtocol } from '../policy/types.js';
import type { FlowClassification } from '../policy/evaluate.js';
import type { Decider, ProxyTarget } from './decide.js';

/** `POST /_emulator/sandboxes/{id}/evaluate` request (PRODUCT.md). */
export interface DryRunRequest {
  host?: string;
  ip?: string;
  port: number;
  transport?: 'tcp' | 'udp';
  appProtocol?: AppProtocol;
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

/**
 * A dry run of the gateway's decision for a flow the sandbox might open. A host without an ip is
 * resolved the way the sandbox would; the classification is what the gateway would see: a TLS SNI or
 * HTTP Host for TCP with a host, a QUIC SNI for UDP with a host, unknown otherwise.
 */
export function dryRun(decide: Decider, sandboxId: string, resolve: (host: string) => string | undefined, req: DryRunRequest): DryRunResult {
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
  const named = req.sni ?? req.host;
  const host = named && !isIP(named) ? named.toLowerCase() : named;
  let classification: FlowClassification;
  if (transport === 'udp') {
    classification = host ? { kind: 'known', appProtocol: 'udp', host } : { kind: 'unknown', reason: 'missing_sni' };
  } else if (req.appProtocol) {
    classification = { kind: 'known', appProtocol: req.appProtocol, ...(host && ['http', 'tls', 'dns'].includes(req.appProtocol) ? { host } : {}) };
  } else if (host) {
    classification = { kind: 'known', appProtocol: guessAppProtocol(req.port), host };
  } else {
    classification = { kind: 'unknown', reason: 'unclassified' };
  }
  const v = decide({ sandboxId, destIp: ip, destPort: req.port, transport, classification });
  let explanation = v.explanation;
  if (transport === 'udp' && v.verdict === 'deny' && !v.reason.endsWith('_not_proxied')) {
    // A QUIC/UDP flow denied where the same destination over TCP is allowed: the rule names TCP only.
    const tcp = decide({ sandboxId, destIp: ip, destPort: req.port, transport: 'tcp', classification: host ? { kind: 'known', appProtocol: 'tls', host } : { kind: 'unknown', reason: 'unclassified' } });
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
): Promise<DryRunResult> {
  if (req.ip || !req.host) return dryRun(decide, sandboxId, () => undefined, req);
  const found = await lookup(req.host);
  const result = dryRun(decide, sandboxId, () => (found.ok ? found.address : undefined), req);
  if (!result.flowStarts && !found.ok && found.askedHost) result.explanation += ` (${found.reason})`;
  return result;
}
