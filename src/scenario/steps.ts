import { adminData } from '../api/admin/client.js';
import type { NetworkAuditAttributes, NetworkAuditEvent } from '../gateway/audit.js';
import type { DryRunResult } from '../gateway/dry-run.js';
import type { ProbeRequest, ProbeResult } from '../sandbox/probe.js';
import { describeReply } from '../socks5/protocol.js';
import type { ConnectionLogEntry } from '../test-proxy/connection-log.js';
import { setPlatformRecords, type ScenarioContext } from './apply.js';
import { matchExpectations, type Observation } from './expectations.js';
import { auditLine, proxyLine } from './lines.js';
import type { StepResult } from './report.js';
import { stepActions, type ScenarioStep, type StepAction } from './schema.js';

/** Runs one step through the emulator's APIs and checks its expectations. */

interface Done {
  summary: string;
  happened: string;
  got: Observation;
  auditLine?: string;
  proxyLine?: string;
  flowLines?: string[];
  skipped?: string;
}

const hostPort = (t: { host?: string; ip?: string; port: number }) => `${t.host ?? t.ip}${t.host && t.ip ? ` (${t.ip})` : ''}:${t.port}`;

function decisionObservation(d: DryRunResult): Observation {
  if (!d.flowStarts) return { decision: 'deny', action: 'deny', reason: d.reason, flowStarts: false };
  return {
    decision: d.action === 'deny' ? 'deny' : 'allow',
    action: d.action,
    reason: d.reason,
    flowStarts: true,
    ...(d.matchedRule !== undefined ? { matchedRule: d.matchedRule } : {}),
    ...(d.route ? { route: d.route } : {}),
    ...(d.proxyTarget ? { proxyTarget: { ...d.proxyTarget } } : {}),
  };
}

function describeDecision(d: DryRunResult): string {
  if (!d.flowStarts) return `no flow starts: ${d.explanation}`;
  const verdict = d.action === 'deny' ? `denied (${d.reason})` : `allowed (${d.action}, ${d.reason}${d.matchedRule ? `, rule ${d.matchedRule}` : ''})`;
  const route = d.route === 'proxy' && d.proxyTarget ? ` via the SOCKS5 proxy, CONNECT ${d.proxyTarget.atyp} ${d.proxyTarget.host}:${d.proxyTarget.port}` : d.route ? ` ${d.route}` : '';
  return `${verdict}${route}`;
}

async function lastProxyEntryId(ctx: ScenarioContext): Promise<number | undefined> {
  if (!ctx.testProxyAddress) return undefined;
  const { connections } = await adminData(ctx.admin.proxy.connections.$get({ query: { limit: '1' } }));
  return connections[0]?.id ?? 0;
}

async function proxyEntryAfter(ctx: ScenarioContext, afterId: number | undefined): Promise<ConnectionLogEntry | undefined> {
  if (afterId === undefined) return undefined;
  const { connections } = await adminData(ctx.admin.proxy.connections.$get({ query: { afterId: String(afterId) } }));
  return connections[0];
}

async function sandboxEvents(ctx: ScenarioContext, sandboxId: string): Promise<NetworkAuditEvent[]> {
  const { events } = await adminData(ctx.admin.flows.$get({ query: { sandbox: sandboxId, limit: '10000' } }));
  return events as NetworkAuditEvent[];
}

/** How long `exec` waits for the results of flows whose attempts it saw (a relay closing after its program). */
const FLOW_SETTLE_MS = 3_000;
const FLOW_SETTLE_POLL_MS = 20;

/** The result events of flows that started after `seen`, once every new attempt has one (or the bound ends). */
async function settledFlows(ctx: ScenarioContext, sandboxId: string, seen: ReadonlySet<string>): Promise<NetworkAuditEvent[]> {
  const deadline = Date.now() + FLOW_SETTLE_MS;
  for (;;) {
    const fresh = (await sandboxEvents(ctx, sandboxId)).filter((ev) => !seen.has(ev.event_id));
    const results = fresh.filter((ev) => ev.phase === 'result');
    const ended = new Set(results.map((ev) => ev.attributes.flow_id));
    const open = fresh.some((ev) => ev.phase === 'attempt' && !ended.has(ev.attributes.flow_id));
    if (!open || Date.now() >= deadline) return results;
    await new Promise((resolve) => setTimeout(resolve, FLOW_SETTLE_POLL_MS));
  }
}

async function resultEvent(ctx: ScenarioContext, sandboxId: string, flowId: string | undefined): Promise<NetworkAuditEvent | undefined> {
  if (!flowId) return undefined;
  const mine = (await sandboxEvents(ctx, sandboxId)).filter((e) => e.attributes.flow_id === flowId);
  return mine.find((e) => e.phase === 'result') ?? mine.at(-1);
}

async function flowStep(ctx: ScenarioContext, sandboxId: string, request: ProbeRequest, summary: string): Promise<Done> {
  // A TLS or QUIC answer is binary: only an HTTP or raw exchange's answer is kept as text.
  const textAnswer = request.send === 'http-get' || request.send === 'raw';
  const before = await lastProxyEntryId(ctx);
  const probe = (await adminData(ctx.admin.sandboxes[':id'].probe.$post({ param: { id: sandboxId }, json: request }))) as ProbeResult;
  const event = await resultEvent(ctx, sandboxId, probe.flowId);
  const entry = await proxyEntryAfter(ctx, before);
  const a: Partial<NetworkAuditAttributes> = event?.attributes ?? {};
  const got: Observation = { ...decisionObservation(probe.decision), outcome: probe.outcome };
  // What really happened (the audit) wins over the dry run where both speak.
  if (a.action) {
    got.action = a.action;
    got.decision = a.action === 'deny' ? 'deny' : 'allow';
    got.reason = a.reason;
    if (a.route) got.route = a.route;
    if (a.matched_rule !== undefined) got.matchedRule = a.matched_rule;
    if (a.proxy_target_atyp && a.proxy_target) got.proxyTarget = { ...got.proxyTarget, atyp: a.proxy_target_atyp };
  }
  if (got.reason?.endsWith('_not_proxied')) got.decision = 'deny';
  if (probe.errorStep ?? a.error_step) got.errorStep = probe.errorStep ?? a.error_step;
  if (event) got.audit = { ...a };
  got.proxy = entry
    ? {
        reached: true,
        ...(entry.user !== undefined ? { user: entry.user } : {}),
        ...(entry.atyp !== undefined ? { atyp: entry.atyp } : {}),
        ...(entry.host !== undefined ? { host: entry.host } : {}),
        ...(entry.port !== undefined ? { port: entry.port } : {}),
        ...(entry.replyCode !== undefined ? { replyCode: entry.replyCode } : {}),
        ...(entry.auth !== undefined ? { auth: entry.auth } : {}),
        ...(entry.closeCause !== undefined ? { closeCause: entry.closeCause } : {}),
      }
    : { reached: false };
  if (probe.received && textAnswer) got.response = Buffer.from(probe.received, 'base64').toString('latin1');
  const outcome =
    probe.outcome === 'error'
      ? `error${got.errorStep ? ` at ${got.errorStep}` : ''}${probe.error ? `: ${probe.error}` : ''}`
      : probe.outcome === 'rejected'
        ? `rejected by the emulator (${got.reason})`
        : probe.outcome;
  const proxyPart = !entry
    ? ''
    : entry.atyp === undefined
      ? `; the proxy got no CONNECT${entry.user ? ` (user ${entry.user}${entry.auth === 'rejected' ? ', credentials rejected' : ''})` : ''}${entry.closeCause ? `, closed: ${entry.closeCause}` : ''}`
      : `; the proxy saw ${entry.atyp} ${entry.host ?? '?'}:${entry.port ?? '?'}${entry.user ? ` as ${entry.user}` : ''}${entry.replyCode !== undefined ? `, replied ${describeReply(entry.replyCode)}` : ''}`;
  return {
    summary,
    happened: `${describeDecision(probe.decision)} → ${outcome}${proxyPart}`,
    got,
    ...(event ? { auditLine: auditLine(a) } : {}),
    ...(entry ? { proxyLine: proxyLine(entry) } : {}),
  };
}

const asText = (data: string | undefined) => (data === undefined ? undefined : Buffer.from(data, 'utf8').toString('base64'));

type Runner = (ctx: ScenarioContext, step: ScenarioStep, sandboxId: string | undefined) => Promise<Done>;

function needSandbox(id: string | undefined): string {
  if (!id) throw new Error('this step needs a sandbox: the scenario declares none (platform.sandboxes)');
  return id;
}

const runners: Record<StepAction, Runner> = {
  async connect(ctx, step, id) {
    const c = step.connect!;
    const send = c.send === 'tls' ? 'tls-client-hello' : c.send === 'http' ? 'http-get' : 'raw';
    const request: ProbeRequest = {
      ...(c.host ? { host: c.host } : {}),
      ...(c.ip ? { ip: c.ip } : {}),
      port: c.port,
      send,
      ...(c.sni ? { sni: c.sni } : {}),
      ...(c.alpn ? { alpn: c.alpn } : {}),
      ...(c.send === 'raw' ? { data: asText(c.data ?? '') } : {}),
      ...(c.timeoutMs ? { timeoutMs: c.timeoutMs } : {}),
    };
    return flowStep(ctx, needSandbox(id), request, `connect ${c.send} ${hostPort(c)}${c.sni ? ` sni ${c.sni}` : ''}`);
  },
  async quic(ctx, step, id) {
    const q = step.quic!;
    const request: ProbeRequest = { ...(q.host ? { host: q.host } : {}), ...(q.ip ? { ip: q.ip } : {}), port: q.port, send: 'quic-initial', ...(q.sni ? { sni: q.sni } : {}), ...(q.alpn ? { alpn: q.alpn } : {}) };
    return flowStep(ctx, needSandbox(id), request, `quic ${hostPort(q)} sni ${q.sni ?? q.host ?? '(none)'}`);
  },
  async evaluate(ctx, step, id) {
    const e = step.evaluate!;
    const quic = e.appProtocol === 'quic';
    const json = { ...e, ...(quic ? { transport: 'udp' as const, appProtocol: undefined } : {}) } as { host?: string; ip?: string; port: number; transport?: 'tcp' | 'udp'; sni?: string };
    const d = (await adminData(ctx.admin.sandboxes[':id'].evaluate.$post({ param: { id: needSandbox(id) }, json }))) as DryRunResult;
    return { summary: `evaluate ${e.transport ?? (quic ? 'udp' : 'tcp')} ${hostPort(e)}`, happened: `${describeDecision(d)}${d.flowStarts ? `: ${d.explanation}` : ''}`, got: decisionObservation(d) };
  },
  async dns(ctx, step, id) {
    const name = step.dns!.name;
    const d = (await adminData(ctx.admin.sandboxes[':id'].evaluate.$post({ param: { id: needSandbox(id) }, json: { host: name, port: 443 } }))) as DryRunResult;
    const got: Observation = d.flowStarts ? { resolves: true, addresses: [d.destination.ip] } : { resolves: false, addresses: [] };
    return { summary: `resolve ${name} in the sandbox`, happened: d.flowStarts ? `${name} resolves to ${d.destination.ip}` : d.explanation, got };
  },
  async exec(ctx, step, id) {
    const e = step.exec!;
    const command = typeof e.command === 'string' ? ['sh', '-c', e.command] : e.command;
    const summary = `exec ${command.join(' ')}`;
    if (ctx.interception !== 'transparent') {
      return { summary, happened: 'not run', got: {}, skipped: `skipped: commands run as steps only with transparent interception (this emulator uses ${ctx.interception}); run as root or with CAP_NET_ADMIN and emulator.interception: transparent` };
    }
    const sandboxId = needSandbox(id);
    const seen = new Set((await sandboxEvents(ctx, sandboxId)).map((e) => e.event_id));
    const r = await ctx.s0.createContext(sandboxId, { type: 'cmd', cmd: { command }, wait_until_done: true, ...(e.timeoutMs ? { ttl_sec: Math.ceil(e.timeoutMs / 1000) } : {}) });
    const exitCode = typeof r.exit_code === 'number' ? r.exit_code : undefined;
    const stdout = typeof r.stdout === 'string' ? r.stdout : '';
    // The flows the command made, as the gateway audited them. A program can exit before the gateway
    // has written the result of its last flow (the relay closes after the client does): wait for a
    // result for every new attempt, bounded.
    const flows = await settledFlows(ctx, sandboxId, seen);
    return {
      summary,
      happened: `exited ${exitCode ?? '?'}; stdout ${JSON.stringify(stdout.slice(0, 200))}; ${flows.length} flow(s)`,
      got: { ...(exitCode !== undefined ? { exitCode } : {}), stdout },
      flowLines: flows.map((ev) => auditLine(ev.attributes)),
    };
  },
  async policy(ctx, step, id) {
    await ctx.s0.updateNetworkPolicy(needSandbox(id), step.policy);
    return { summary: 'update the network policy', happened: 'the policy was accepted', got: {} };
  },
  async rotateCredential(ctx, step) {
    const r = step.rotateCredential!;
    const current = await ctx.s0.getCredentialSource(r.source);
    const updated = await ctx.s0.updateCredentialSource(r.source, { name: r.source, resolverKind: current.resolverKind, spec: r.spec });
    return { summary: `rotate credential source ${r.source}`, happened: `now at version ${String(updated.currentVersion ?? '?')} (bindings re-pinned)`, got: {} };
  },
  async proxyUsers(ctx, step) {
    const users = step.proxyUsers!;
    await adminData(ctx.admin.proxy.users.$put({ json: { users } }));
    return { summary: `set the proxy users (${users.map((u) => u.username).join(', ')})`, happened: 'the test proxy took the new users', got: {} };
  },
  async addFault(ctx, step) {
    const f = await adminData(ctx.admin.proxy.faults.$post({ json: step.addFault! }));
    return { summary: `add proxy fault ${f.name} (${f.type})`, happened: `fault ${f.name} is active`, got: {} };
  },
  async removeFault(ctx, step) {
    await adminData(ctx.admin.proxy.faults[':name'].$delete({ param: { name: step.removeFault! } }));
    return { summary: `remove proxy fault ${step.removeFault}`, happened: 'removed', got: {} };
  },
  async platformDns(ctx, step) {
    await setPlatformRecords(ctx, step.platformDns!, ctx.attached, 'platformDns');
    return { summary: `set platform DNS records (${Object.keys(step.platformDns!).join(', ')})`, happened: 'the platform DNS view has them', got: {} };
  },
  async wait(_ctx, step) {
    const ms = step.wait!.ms;
    await new Promise((r) => setTimeout(r, ms));
    return { summary: `wait ${ms} ms`, happened: 'waited', got: {} };
  },
};

export const stepAction = (step: ScenarioStep): StepAction => stepActions.find((a) => step[a] !== undefined)!;

export async function runStep(ctx: ScenarioContext, step: ScenarioStep, index: number, defaultSandbox: string | undefined): Promise<StepResult> {
  const started = Date.now();
  const action = stepAction(step);
  const sandboxName = step.sandbox ?? defaultSandbox;
  const base = { index, name: step.name ?? action, action, ...(sandboxName && ['connect', 'quic', 'evaluate', 'dns', 'exec', 'policy'].includes(action) ? { sandbox: sandboxName } : {}) };
  let done: Done;
  try {
    if (step.sandbox !== undefined && !ctx.sandboxes.has(step.sandbox)) throw new Error(`no sandbox named "${step.sandbox}" (declared: ${[...ctx.sandboxes.keys()].join(', ') || 'none'})`);
    done = await runners[action](ctx, step, sandboxName === undefined ? undefined : ctx.sandboxes.get(sandboxName));
  } catch (err) {
    // A refused call is what the step observed: a failure unless the file expects it (`expect.error`).
    const message = (err as Error).message;
    const got: Observation = { error: message };
    const differences = matchExpectations(step.expect, got);
    const expected = step.expect?.error !== undefined;
    return { ...base, summary: action, status: expected && differences.length === 0 ? 'passed' : 'failed', happened: `refused: ${message}`, got, differences, durationMs: Date.now() - started };
  }
  if (done.skipped) return { ...base, summary: done.summary, status: 'skipped', happened: done.happened, got: done.got, differences: [], message: done.skipped, durationMs: Date.now() - started };
  const differences = matchExpectations(step.expect, done.got);
  return {
    ...base,
    summary: done.summary,
    status: differences.length ? 'failed' : 'passed',
    happened: done.happened,
    got: done.got,
    differences,
    ...(done.auditLine ? { auditLine: done.auditLine } : {}),
    ...(done.proxyLine ? { proxyLine: done.proxyLine } : {}),
    ...(done.flowLines?.length ? { flowLines: done.flowLines } : {}),
    durationMs: Date.now() - started,
  };
}
