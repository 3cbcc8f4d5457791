/**
 * A flow's story for the web view: classification → platform checks → rule evaluation → domain phase
 * and host verification → decision → proxy handshake as the test proxy saw it → relay → close, each
 * step with its timing where the records have one. Built on demand from what was recorded (the audit
 * events, the proxy's connection log) and the decision recomputed through the gateway's own decide path
 * with the rule trace (policy/rule-trace.ts): nothing of this is computed while a flow runs.
 */
import { isIP } from 'node:net';
import type { FlowClassification } from '../policy/evaluate.js';
import { traceRules, type RulesTrace } from '../policy/rule-trace.js';
import type { UnknownReason } from '../policy/types.js';
import type { ConnectionLogEntry } from '../test-proxy/connection-log.js';
import type { NetworkAuditAttributes, NetworkAuditEvent } from './audit.js';
import type { FlowInput } from './decide.js';
import { socksReplyMeaning } from './dial.js';
import type { DryRunResult } from './dry-run.js';
import type { Gateway } from './gateway.js';

export type StoryStepName = 'classification' | 'platform-checks' | 'rule-evaluation' | 'domain-and-verification' | 'decision' | 'proxy-handshake' | 'relay' | 'close';

export interface StoryStep {
  step: StoryStepName;
  status: 'ok' | 'failed' | 'skipped' | 'info';
  summary: string;
  /** When the step ended (ISO), where a record says. */
  at?: string;
  /** Milliseconds from the flow's start to the end of this step. */
  offsetMs?: number;
  /** How long the step took, where the records bound it. */
  durationMs?: number;
  facts?: Record<string, string | number | boolean | string[]>;
}

/** Where a flow's host came from. */
export type HostSource = 'tls-sni' | 'http-host' | 'quic-sni' | 'dns-cache' | 'dns-query' | 'classifier';

export interface FlowStory {
  sandboxId: string;
  flowId?: string;
  host?: string;
  hostSource?: HostSource;
  steps: StoryStep[];
  /** The decision recomputed now through the gateway's decide path (the same one the flow took). */
  decision: { action: string; reason: string; matchedRule?: string; route?: 'direct' | 'proxy'; phase: string; explanation: string };
  /** False when the recorded decision differs from today's (the policy changed since the flow). */
  consistent?: boolean;
  /** The destination phase, rule by rule (absent without a compiled policy: nothing is restricted). */
  rules?: RulesTrace;
  mode?: string;
  /** The test proxy's connection-log entry of this flow and how it was found. */
  proxy?: { entry: ConnectionLogEntry; correlation: 'source' | 'target-and-time' };
  events: NetworkAuditEvent[];
}

const unknownReasons: readonly string[] = ['missing_host', 'missing_sni', 'client_idle', 'classification_timeout', 'read_failed', 'header_limit_exceeded', 'unclassified', 'missing_original_dst'];

/** Where the host of a flow with this transport and protocol came from. */
export function hostSourceOf(transport: 'tcp' | 'udp', protocol: string | undefined, known: boolean, hostSource?: 'classifier' | 'dns-cache'): HostSource {
  if (hostSource === 'dns-cache' || protocol === 'ssh') return 'dns-cache';
  if (transport === 'udp') return known ? 'quic-sni' : 'dns-query';
  if (protocol === 'tls') return 'tls-sni';
  if (protocol === 'http') return 'http-host';
  if (protocol === 'dns') return 'dns-query';
  return 'classifier';
}

const hostSourceWords: Record<HostSource, string> = {
  'tls-sni': 'TLS SNI',
  'http-host': 'HTTP Host header',
  'quic-sni': 'QUIC Initial SNI',
  'dns-cache': "the sandbox's DNS answers (snoop cache)",
  'dns-query': 'DNS query name',
  classifier: 'the classifier',
};

/** The classification a recorded flow had, as the decider takes it. */
export function classificationOf(a: NetworkAuditAttributes): FlowClassification {
  if (a.classifier_result === 'known' && a.protocol) {
    const ssh = a.protocol === 'ssh' && a.host !== undefined;
    return { kind: 'known', appProtocol: a.protocol as Extract<FlowClassification, { kind: 'known' }>['appProtocol'], ...(a.host !== undefined ? { host: a.host } : {}), ...(ssh ? { hostSource: 'dns-cache' as const } : {}) };
  }
  return { kind: 'unknown', reason: (unknownReasons.includes(a.reason) ? a.reason : 'unclassified') as UnknownReason };
}

const ms = (iso: string | undefined) => (iso ? Date.parse(iso) : NaN);

export interface StoryDeps {
  gateway: Pick<Gateway, 'decide' | 'policies' | 'platform' | 'sandboxIps'>;
  /** The test proxy's connection log, when there is an embedded proxy. */
  proxyConnections?: () => ConnectionLogEntry[];
}

interface Recomputed {
  story: Pick<FlowStory, 'decision' | 'rules' | 'mode'>;
  steps: StoryStep[];
}

/** Steps 2–5 (platform checks, rules, domain phase and verification, decision) from the decide path. */
function decideSteps(deps: StoryDeps, flow: FlowInput): Recomputed {
  const v = deps.gateway.decide(flow);
  const compiled = deps.gateway.policies.get(flow.sandboxId)?.compiled;
  const d = v.decision;
  const decision: FlowStory['decision'] = {
    action: v.verdict === 'deny' ? 'deny' : d.action,
    reason: v.verdict === 'deny' ? v.reason : d.reason,
    ...(d.matchedRule !== undefined ? { matchedRule: d.matchedRule } : {}),
    ...(v.verdict === 'allow' ? { route: v.route } : {}),
    phase: d.phase,
    explanation: v.explanation,
  };
  const steps: StoryStep[] = [];
  if (!compiled) {
    steps.push({ step: 'platform-checks', status: 'skipped', summary: 'no compiled network policy: the platform checks do not run (as upstream with a nil policy)' });
    steps.push({ step: 'rule-evaluation', status: 'skipped', summary: 'no compiled network policy: nothing is restricted' });
    steps.push({ step: 'domain-and-verification', status: 'skipped', summary: 'no compiled network policy' });
    steps.push(decisionStep(decision));
    return { story: { decision }, steps };
  }
  const rules = traceRules(compiled, deps.gateway.platform, flow, { otherSandboxIps: deps.gateway.sandboxIps, sourceIp: flow.sourceIp });
  if (!rules.destinationPhase) {
    steps.push({ step: 'platform-checks', status: 'skipped', summary: 'no destination address and port: the destination phase does not run' });
  } else {
    const hit = rules.platformChecks.find((c) => c.hit);
    const words = { 'other-sandbox': 'the destination is another sandbox (always denied)', 'platform-denied-cidr': 'the destination is in a platform denied CIDR', 'platform-allowed-cidr': 'the destination is in a platform allowed CIDR (rules are skipped)' };
    steps.push({
      step: 'platform-checks',
      status: hit ? (hit.check === 'platform-allowed-cidr' ? 'ok' : 'failed') : 'ok',
      summary: hit ? words[hit.check] : 'not another sandbox, not in a platform denied or allowed CIDR',
      facts: Object.fromEntries(rules.platformChecks.map((c) => [c.check, c.hit])),
    });
  }
  const matched = rules.firstMatch >= 0 ? rules.tried[rules.tried.length - 1] : undefined;
  const label = (r: { name: string; index: number }) => (r.name ? `"${r.name}"` : `unnamed rule #${r.index}`);
  steps.push({
    step: 'rule-evaluation',
    status: matched ? (matched.action === 'allow' ? 'ok' : 'failed') : rules.tried.length === 0 ? 'skipped' : d.basis === 'allow-all-default' ? 'ok' : 'failed',
    summary: matched
      ? `${rules.tried.length} rule${rules.tried.length === 1 ? '' : 's'} tried; ${label(matched)} matched and ${matched.action === 'allow' ? 'allows' : 'denies'}`
      : compiled.trafficRules.length === 0
        ? `no trafficRules; mode ${compiled.mode || 'allow-all'} decides`
        : rules.tried.length === 0
          ? 'no rule was tried (a platform check decided)'
          : `${rules.tried.length} rule${rules.tried.length === 1 ? '' : 's'} tried, none matched; mode ${compiled.mode} decides`,
    facts: { probeHost: rules.probe.host || '(none)', probeAppProtocol: rules.probe.appProtocol || '(unknown)', probePort: `${rules.probe.port}/${rules.probe.transport}` },
  });
  const domainStep: StoryStep =
    d.phase === 'domain'
      ? { step: 'domain-and-verification', status: 'failed', summary: v.explanation }
      : d.phase === 'verification'
        ? { step: 'domain-and-verification', status: d.action === 'deny' ? 'failed' : 'info', summary: v.explanation }
        : d.phase === 'destination' || d.phase === 'unknown'
          ? { step: 'domain-and-verification', status: 'skipped', summary: d.phase === 'unknown' ? 'unclassified traffic: no domain phase' : 'decided in the destination phase' }
          : { step: 'domain-and-verification', status: 'ok', summary: flow.classification.kind === 'known' && flow.classification.host ? `host ${flow.classification.host} passed the domain phase and host verification (or they did not apply)` : 'no host: no domain phase, no host verification' };
  steps.push(domainStep, decisionStep(decision));
  return { story: { decision, rules, mode: compiled.mode }, steps };
}

function decisionStep(decision: FlowStory['decision']): StoryStep {
  return {
    step: 'decision',
    status: decision.action === 'deny' ? 'failed' : 'ok',
    summary: decision.explanation,
    facts: { action: decision.action, reason: decision.reason, ...(decision.matchedRule !== undefined ? { matchedRule: decision.matchedRule } : {}), ...(decision.route ? { route: decision.route } : {}) },
  };
}

/** The connection-log entry of a proxied flow: by the gateway's source address, else by target and time. */
export function correlateProxyEntry(entries: readonly ConnectionLogEntry[], a: NetworkAuditAttributes, fromMs: number, toMs: number): FlowStory['proxy'] {
  const slackMs = 1_000;
  const inWindow = (e: ConnectionLogEntry) => {
    const t = ms(e.time);
    return t >= fromMs - slackMs && t <= toMs + slackMs;
  };
  if (a.proxy_source) {
    const bySource = entries.filter((e) => e.client === a.proxy_source && inWindow(e));
    if (bySource.length > 0) return { entry: bySource[bySource.length - 1]!, correlation: 'source' };
  }
  if (!a.proxy_target) return undefined;
  const candidates = entries.filter((e) => e.host !== undefined && `${isIP(e.host) === 6 ? `[${e.host}]` : e.host}:${e.port}` === a.proxy_target && inWindow(e));
  if (candidates.length === 0) return undefined;
  candidates.sort((x, y) => Math.abs(ms(x.time) - fromMs) - Math.abs(ms(y.time) - fromMs));
  return { entry: candidates[0]!, correlation: 'target-and-time' };
}

/** When a recorded flow was decided and ended, and a step's offset from its start. */
interface RecordedTimes {
  decidedMs: number;
  endMs: number;
  offset: (t: number) => number;
}

function recordedTimes(attempt: NetworkAuditEvent | undefined, result: NetworkAuditEvent | undefined, last: NetworkAuditEvent): RecordedTimes {
  const endMs = ms((result ?? last).occurred_at);
  const decidedMs = ms((attempt ?? result ?? last).occurred_at);
  const startMs = result?.attributes.duration_ms !== undefined ? endMs - result.attributes.duration_ms : decidedMs;
  return { decidedMs, endMs, offset: (t) => Math.max(0, Math.round(t - startMs)) };
}

function classificationStep(a: NetworkAuditAttributes, classification: FlowClassification, hostSource: HostSource | undefined, t: RecordedTimes): StoryStep {
  const host = a.host;
  const hostText = host ? `; host ${host} from ${hostSourceWords[hostSource!]}` : '';
  return {
    step: 'classification',
    status: a.classifier_result === 'known' ? 'ok' : 'info',
    summary:
      a.classifier_result === 'known'
        ? `${a.transport.toUpperCase()} classified as ${a.protocol}${host ? hostText : '; no host'}`
        : `${a.transport.toUpperCase()} not classified (${classification.kind === 'unknown' ? classification.reason : a.reason})${hostText}`,
    at: new Date(t.decidedMs).toISOString(),
    offsetMs: t.offset(t.decidedMs),
    durationMs: t.offset(t.decidedMs),
    facts: { destination: `${a.dest_ip}:${a.dest_port}`, transport: a.transport, classifier: a.classifier_result, ...(a.protocol ? { protocol: a.protocol } : {}), ...(a.src_ip ? { source: a.src_ip } : {}) },
  };
}

/**
 * The decision steps, recomputed with today's policy when the destination is known, with the
 * decision step showing what was recorded (and saying when the policy has moved on since).
 */
function recordedDecisionSteps(deps: StoryDeps, last: NetworkAuditEvent, classification: FlowClassification, t: RecordedTimes): { steps: StoryStep[]; recomputed?: Recomputed; consistent?: boolean } {
  const a = last.attributes;
  const known = a.dest_ip !== '' && a.dest_port > 0;
  const recomputed = known
    ? decideSteps(deps, { sandboxId: last.sandbox_id, sourceIp: a.src_ip, destIp: a.dest_ip, destPort: a.dest_port, transport: a.transport, classification })
    : undefined;
  const steps: StoryStep[] = recomputed
    ? [...recomputed.steps]
    : [{ step: 'decision', status: 'failed', summary: `${a.action} (${a.reason}): interception could not tell the original destination` }];
  const today = recomputed?.story.decision;
  const consistent = today ? today.action === a.action && today.reason === a.reason && today.matchedRule === a.matched_rule : undefined;
  const i = steps.findIndex((s) => s.step === 'decision');
  // What happened is the record; the recomputed decision explains it (and says when the policy moved on).
  steps[i] = {
    ...steps[i]!,
    status: a.action === 'deny' ? 'failed' : 'ok',
    at: new Date(t.decidedMs).toISOString(),
    offsetMs: t.offset(t.decidedMs),
    facts: { action: a.action, reason: a.reason, ...(a.matched_rule !== undefined ? { matchedRule: a.matched_rule } : {}), ...(a.route ? { route: a.route } : {}) },
    ...(consistent === false
      ? { summary: `recorded ${a.action} (${a.reason}${a.matched_rule !== undefined ? `, rule "${a.matched_rule}"` : ''}); the policy has changed since: today it would be ${today!.explanation}` }
      : {}),
  };
  return { steps, ...(recomputed ? { recomputed } : {}), ...(consistent !== undefined ? { consistent } : {}) };
}

function relayStep(a: NetworkAuditAttributes, result: NetworkAuditEvent | undefined, proxy: FlowStory['proxy'], t: RecordedTimes): StoryStep {
  if (result === undefined) return { step: 'relay', status: 'info', summary: 'still open (no result event yet)' };
  if (result.outcome === 'error' && a.error_step !== 'relay') return { step: 'relay', status: 'skipped', summary: 'no relay: the dial failed' };
  return {
    step: 'relay',
    status: a.error_step === 'relay' ? 'failed' : 'ok',
    summary: `${a.egress_bytes ?? 0} bytes up, ${a.ingress_bytes ?? 0} bytes down`,
    at: new Date(t.endMs).toISOString(),
    offsetMs: t.offset(t.endMs),
    durationMs: Math.max(0, Math.round(t.endMs - (proxy ? ms(proxy.entry.time) : t.decidedMs))),
    facts: { egress_bytes: a.egress_bytes ?? 0, ingress_bytes: a.ingress_bytes ?? 0 },
  };
}

function closeStep(a: NetworkAuditAttributes, result: NetworkAuditEvent, proxy: FlowStory['proxy'], t: RecordedTimes): StoryStep {
  return {
    step: 'close',
    status: result.outcome === 'completed' ? 'ok' : 'failed',
    summary: result.outcome === 'completed' ? `completed after ${a.duration_ms ?? 0} ms` : `error at ${a.error_step}: ${a.error ?? ''}`,
    at: new Date(t.endMs).toISOString(),
    offsetMs: t.offset(t.endMs),
    durationMs: a.duration_ms,
    facts: { outcome: result.outcome, ...(a.error_step ? { error_step: a.error_step } : {}), ...(proxy?.entry.closeCause ? { proxyCloseCause: proxy.entry.closeCause } : {}) },
  };
}

/** The steps after the decision: proxy handshake, relay and close (skipped for a denied flow). */
function afterDecisionSteps(deps: StoryDeps, a: NetworkAuditAttributes, result: NetworkAuditEvent | undefined, t: RecordedTimes): { steps: StoryStep[]; proxy: FlowStory['proxy'] } {
  if (a.action === 'deny') {
    return {
      proxy: undefined,
      steps: [
        { step: 'proxy-handshake', status: 'skipped', summary: 'denied before any dial' },
        { step: 'relay', status: 'skipped', summary: 'no relay' },
        { step: 'close', status: 'failed', summary: 'the gateway closed the connection without a byte (the sandbox sees an empty reply)', at: new Date(t.endMs).toISOString(), offsetMs: t.offset(t.endMs) },
      ],
    };
  }
  let proxy: FlowStory['proxy'];
  const steps: StoryStep[] = [];
  if (a.route === 'proxy') {
    proxy = deps.proxyConnections ? correlateProxyEntry(deps.proxyConnections(), a, t.decidedMs, t.endMs) : undefined;
    steps.push(proxyStep(a, proxy, t.offset));
  } else {
    steps.push({ step: 'proxy-handshake', status: 'skipped', summary: a.route === 'direct' ? 'route direct: no proxy' : 'no route' });
  }
  steps.push(relayStep(a, result, proxy, t));
  if (result) steps.push(closeStep(a, result, proxy, t));
  return { steps, proxy };
}

/** The story of a recorded flow from its audit events (attempt and result, oldest first). */
export function recordedFlowStory(deps: StoryDeps, events: NetworkAuditEvent[]): FlowStory {
  const result = [...events].reverse().find((e) => e.phase === 'result');
  const attempt = events.find((e) => e.phase === 'attempt');
  const last = result ?? attempt ?? events[events.length - 1]!;
  const a = last.attributes;
  const classification = classificationOf(a);
  const host = a.host;
  const hostSource = host ? hostSourceOf(a.transport, a.protocol, a.classifier_result === 'known', classification.kind === 'known' ? classification.hostSource : undefined) : undefined;
  const times = recordedTimes(attempt, result, last);
  const decided = recordedDecisionSteps(deps, last, classification, times);
  const after = afterDecisionSteps(deps, a, result, times);
  const { recomputed, consistent } = decided;
  const { proxy } = after;
  return {
    sandboxId: last.sandbox_id,
    flowId: a.flow_id,
    ...(host ? { host, hostSource } : {}),
    steps: [classificationStep(a, classification, hostSource, times), ...decided.steps, ...after.steps],
    decision: recomputed?.story.decision ?? { action: a.action, reason: a.reason, phase: 'destination', explanation: `${a.action} (${a.reason})` },
    ...(consistent !== undefined ? { consistent } : {}),
    ...(recomputed?.story.rules ? { rules: recomputed.story.rules } : {}),
    ...(recomputed?.story.mode !== undefined ? { mode: recomputed.story.mode } : {}),
    ...(proxy ? { proxy } : {}),
    events,
  };
}

function proxyStep(a: NetworkAuditAttributes, proxy: FlowStory['proxy'], offset: (t: number) => number): StoryStep {
  const wanted = `CONNECT ${a.proxy_target ?? '?'} (ATYP ${a.proxy_target_atyp ?? '?'}) through ${a.proxy_address ?? '?'}`;
  if (a.error_step === 'credentials' || a.error_step === 'proxy_resolve' || a.error_step === 'proxy_protected') {
    return { step: 'proxy-handshake', status: 'failed', summary: `never reached the proxy (${a.error_step}): ${a.error ?? ''}`, facts: { wanted } };
  }
  if (!proxy) {
    return {
      step: 'proxy-handshake',
      status: a.error_step?.startsWith('proxy_') ? 'failed' : 'info',
      summary: `${wanted}; no entry in the test proxy's connection log (another proxy, or the log was cleared)${a.error ? `: ${a.error}` : ''}`,
    };
  }
  const e = proxy.entry;
  const reply = e.replyCode === undefined ? 'no reply' : `reply 0x${e.replyCode.toString(16).padStart(2, '0')}${e.replyCode === 0 ? ' (succeeded)' : ` (${socksReplyMeaning[e.replyCode] ?? 'unknown'})`}`;
  const t = ms(e.time);
  return {
    step: 'proxy-handshake',
    status: e.replyCode === 0 ? 'ok' : 'failed',
    summary: `the proxy saw methods [${(e.methods ?? []).join(', ')}] → ${e.method ?? '?'}${e.user ? `, user ${e.user} (${e.auth ?? '?'})` : ''}, CONNECT ${e.host ?? '?'}:${e.port ?? '?'} ATYP ${e.atyp ?? '?'}: ${reply}${e.faults?.length ? `; faults: ${e.faults.join(', ')}` : ''}`,
    at: e.time,
    offsetMs: offset(t),
    facts: {
      ...(e.methods ? { methods: e.methods } : {}),
      ...(e.method ? { method: e.method } : {}),
      ...(e.user ? { user: e.user } : {}),
      ...(e.auth ? { auth: e.auth } : {}),
      ...(e.atyp ? { atyp: e.atyp } : {}),
      ...(e.host ? { host: e.host } : {}),
      ...(e.port !== undefined ? { port: e.port } : {}),
      ...(e.replyCode !== undefined ? { replyCode: e.replyCode } : {}),
      ...(e.upstream ? { upstream: e.upstream } : {}),
      ...(e.faults?.length ? { faults: e.faults } : {}),
      ...(e.closeCause ? { closeCause: e.closeCause } : {}),
      client: e.client,
      correlation: proxy.correlation,
    },
  };
}

/** The story of a dry run (the evaluate form): what the gateway would do, without timings. */
export function dryRunStory(deps: StoryDeps, sandboxId: string, sourceIp: string | undefined, transport: 'tcp' | 'udp', dry: DryRunResult): FlowStory {
  if (!dry.flowStarts) {
    return {
      sandboxId,
      steps: [{ step: 'classification', status: 'failed', summary: dry.explanation }],
      decision: { action: 'deny', reason: dry.reason, phase: 'sandbox', explanation: dry.explanation },
      events: [],
    };
  }
  const c = dry.classification;
  const host = c.kind === 'known' ? c.host : undefined;
  const hostSource = host ? hostSourceOf(transport, c.kind === 'known' ? c.appProtocol : undefined, c.kind === 'known', c.kind === 'known' ? c.hostSource : undefined) : undefined;
  const steps: StoryStep[] = [
    {
      step: 'classification',
      status: c.kind === 'known' ? 'ok' : 'info',
      summary: c.kind === 'known' ? `would be classified as ${c.appProtocol}${host ? `; host ${host} from ${hostSourceWords[hostSource!]}` : '; no host'}` : `would not be classified (${c.reason})`,
      facts: { destination: `${dry.destination.ip}:${dry.destination.port}`, ...(dry.destination.resolvedFrom ? { resolvedFrom: dry.destination.resolvedFrom } : {}) },
    },
  ];
  const recomputed = decideSteps(deps, { sandboxId, sourceIp, destIp: dry.destination.ip, destPort: dry.destination.port, transport, classification: c });
  steps.push(...recomputed.steps);
  steps.push(
    dry.action !== 'deny' && dry.route === 'proxy' && dry.proxyTarget
      ? { step: 'proxy-handshake', status: 'info', summary: `would CONNECT ${dry.proxyTarget.host}:${dry.proxyTarget.port} (ATYP ${dry.proxyTarget.atyp}) through ${dry.proxyAddress}` }
      : { step: 'proxy-handshake', status: 'skipped', summary: dry.action === 'deny' ? 'denied before any dial' : 'route direct: no proxy' },
  );
  return {
    sandboxId,
    ...(host ? { host, hostSource } : {}),
    steps,
    decision: recomputed.story.decision,
    ...(recomputed.story.rules ? { rules: recomputed.story.rules } : {}),
    ...(recomputed.story.mode !== undefined ? { mode: recomputed.story.mode } : {}),
    events: [],
  };
}
