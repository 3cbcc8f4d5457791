import { encodeCursor } from '../../api/routes/observability.js';
import type { NetworkAuditEvent } from '../../gateway/audit.js';
/** The audit reason of a flow that never started: the sandbox could not resolve its name (sandbox/runtime.ts). */
const sandboxResolutionFailed = 'sandbox_resolution_failed';
import { describeReply, Socks5Reply } from '../../socks5/protocol.js';
import { escapeControl, terminalSafeJson } from '../../text/control-chars.js';
import type { CliCommand, CliIo } from '../io.js';
import { step } from '../s0/command-helpers.js';
import { executeTree, type S0CommandDef } from '../s0/command-tree.js';
import { emulatorClient, emulatorTarget, ndjsonLines } from '../s0/emulator-target.js';

/**
 * `flows [--follow] [--sandbox ID] [--json]`: the gateway's audit events as a readable table (one line
 * per finished flow) or as NDJSON (every event), from `/_emulator/flows`.
 */

/** `unresolved`: the sandbox could not resolve the name, so no connection left it. */
type Verdict = 'allowed' | 'denied' | 'error' | 'unresolved';

export interface FlowRow {
  time: string;
  sandbox: string;
  dest: string;
  host: string;
  protocol: string;
  verdict: Verdict;
  reason: string;
  route: string;
  proxyTarget: string;
  bytes: string;
  /** Why a flow failed: the proxy's reply code and its name, an auth failure, a timeout. */
  why: string;
}

const columns: { key: keyof FlowRow; title: string; width: number }[] = [
  { key: 'time', title: 'TIME', width: 12 },
  { key: 'sandbox', title: 'SANDBOX', width: 19 },
  { key: 'dest', title: 'DEST', width: 21 },
  { key: 'host', title: 'HOST', width: 24 },
  { key: 'protocol', title: 'PROTOCOL', width: 9 },
  { key: 'verdict', title: 'VERDICT', width: 7 },
  { key: 'reason', title: 'REASON', width: 18 },
  { key: 'route', title: 'ROUTE', width: 6 },
  { key: 'proxyTarget', title: 'PROXY TARGET', width: 24 },
  { key: 'bytes', title: 'BYTES OUT/IN', width: 12 },
  { key: 'why', title: 'WHY', width: 40 },
];

const timeoutPattern = /timed? ?out|timeout|ETIMEDOUT|deadline/i;

/** Why a flow failed, in a few words (pure): the reply code and its name, an auth failure, a timeout. */
export function failureDetail(a: NetworkAuditEvent['attributes']): string {
  if (a.reason === sandboxResolutionFailed) return `${a.host ?? 'the name'} does not resolve in the sandbox`;
  if (a.outcome !== 'error') return a.reason.endsWith('_not_proxied') ? 'UDP is never proxied (emulator)' : '';
  const step = a.error_step ?? '';
  if (a.proxy_reply_code !== undefined && a.proxy_reply_code !== Socks5Reply.Succeeded) return `proxy replied ${describeReply(a.proxy_reply_code)}`;
  if (step === 'proxy_auth') return 'proxy auth failed (username/password rejected)';
  if (a.error && timeoutPattern.test(a.error)) return `timeout${step ? ` at ${step}` : ''}`;
  if (step === 'credentials') return 'no proxy credentials (binding/source)';
  const error = a.error ? a.error.replace(/\s+/g, ' ') : '';
  return [step, error].filter(Boolean).join(': ');
}

/**
 * A table row from an audit event (pure). The verdict: denied by policy, failed after an allow,
 * never started (the sandbox could not resolve the name), or allowed. Text the sandbox supplied
 * (Host, SNI) is shown with its control characters escaped.
 */
export function flowRow(e: NetworkAuditEvent): FlowRow {
  const a = e.attributes;
  const verdict: Verdict = a.reason === sandboxResolutionFailed ? 'unresolved' : a.action === 'deny' ? 'denied' : a.outcome === 'error' ? 'error' : 'allowed';
  const destIp = a.dest_ip.includes(':') ? `[${a.dest_ip}]` : a.dest_ip;
  const hasBytes = a.egress_bytes !== undefined || a.ingress_bytes !== undefined;
  return {
    time: (e.occurred_at ?? '').slice(11, 23),
    sandbox: escapeControl(e.sandbox_id),
    dest: `${destIp || '-'}:${a.dest_port}`,
    host: a.host === undefined ? '-' : escapeControl(a.host),
    protocol: `${a.protocol ?? 'unknown'}/${a.transport}`,
    verdict,
    reason: a.error_step ? `${a.reason} (${a.error_step})` : a.reason,
    route: a.route ?? '-',
    proxyTarget: a.proxy_target === undefined ? '-' : escapeControl(a.proxy_target),
    bytes: hasBytes ? `${a.egress_bytes ?? 0}/${a.ingress_bytes ?? 0}` : '-',
    why: escapeControl(failureDetail(a)),
  };
}

/** A value cut to its column (live tables have fixed widths), marked with an ellipsis. */
const fit = (text: string, width: number) => (text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`);

const ansi = { allowed: '\u001b[32m', denied: '\u001b[31m', error: '\u001b[33m', unresolved: '\u001b[33m', reset: '\u001b[0m' } as const;

/**
 * Renders rows with the given column widths; the verdict is colored only when asked (a TTY), and the
 * padding is computed on the plain text so colored and plain tables line up the same.
 */
export function renderFlowLines(rows: readonly FlowRow[], { color = false, widths }: { color?: boolean; widths?: Partial<Record<keyof FlowRow, number>> } = {}): string {
  const width = (key: keyof FlowRow, base: number) => widths?.[key] ?? base;
  return rows
    .map((row) =>
      columns
        .map(({ key, width: base }, i) => {
          // Fixed widths (the live table) cut what does not fit, so the columns stay aligned.
          const text = i === columns.length - 1 || widths?.[key] !== undefined ? row[key] : fit(row[key], base);
          const padded = i === columns.length - 1 ? text : text.padEnd(width(key, base));
          return color && key === 'verdict' ? `${ansi[row.verdict]}${text}${ansi.reset}${padded.slice(text.length)}` : padded;
        })
        .join('  ')
        .trimEnd() + '\n',
    )
    .join('');
}

export const flowHeader = (widths?: Partial<Record<keyof FlowRow, number>>) =>
  columns.map(({ key, title, width }, i) => (i === columns.length - 1 ? title : title.padEnd(widths?.[key] ?? width))).join('  ') + '\n';

/** Column widths that fit every row (the static table); live tables use the fixed defaults. */
export function fitWidths(rows: readonly FlowRow[]): Record<keyof FlowRow, number> {
  const out = {} as Record<keyof FlowRow, number>;
  for (const { key, title } of columns) out[key] = Math.max(title.length, ...rows.map((r) => r[key].length));
  return out;
}

const isAuditEvent = (v: unknown): v is NetworkAuditEvent =>
  typeof v === 'object' && v !== null && (v as { event_type?: unknown }).event_type === 'network_audit' && typeof (v as { attributes?: unknown }).attributes === 'object';

const useColor = (io: CliIo) => (io.stdout as { isTTY?: boolean }).isTTY === true && !io.env.NO_COLOR;

/** Pages through `/_emulator/flows` (bounded: at most this many events). */
const maxListedEvents = 100_000;
const pageSize = 1000;

export const flowsCommand: S0CommandDef = {
  name: 'flows',
  short: 'Show the gateway’s flows (audit events)',
  long: `Show the flows the gateway has seen: one line per finished flow with its verdict and reason
(see the README's troubleshooting table), or every audit event as NDJSON with --json.
WHY says why a flow failed: the proxy's reply code and its name, an auth failure, a timeout.
VERDICT "unresolved": the sandbox could not resolve the name, so no connection left it.
--follow keeps printing new flows until interrupted (Ctrl-C); values too long for its fixed
columns are cut (…). Host names and SNI come from the sandbox: control characters are escaped.

Examples:
  sandbox-egress-emulator flows
  sandbox-egress-emulator flows --follow --sandbox sb-1
  sandbox-egress-emulator flows --json | jq 'select(.attributes.outcome == "error")'`,
  flags: [
    { name: 'follow', short: 'f', kind: 'bool', usage: 'keep printing flows as they happen' },
    { name: 'sandbox', kind: 'string', usage: 'only this sandbox' },
    { name: 'json', kind: 'bool', usage: 'print audit events as NDJSON (also -o json)' },
  ],
  exactArgs: 0,
  async run(ctx) {
    const { io, flags } = ctx;
    const target = await step(io, 'Error', () => emulatorTarget(ctx));
    if (!target.ok) return 1;
    const json = flags.bool('json') || ctx.global.output === 'json';
    const sandbox = flags.str('sandbox');
    const color = useColor(io);

    if (!flags.bool('follow')) {
      const client = emulatorClient(target.value);
      const listed = await step(io, 'Error listing flows', async () => {
        const events: NetworkAuditEvent[] = [];
        let cursor: string | undefined;
        while (events.length < maxListedEvents) {
          const page = await client.listFlows({ limit: String(pageSize), ...(sandbox ? { sandbox } : {}), ...(cursor ? { cursor } : {}) });
          events.push(...page.events.filter(isAuditEvent));
          if (!page.next_cursor || page.events.length < pageSize) break;
          cursor = page.next_cursor;
        }
        return events;
      });
      if (!listed.ok) return 1;
      if (json) {
        io.stdout.write(listed.value.map((e) => terminalSafeJson(e) + '\n').join(''));
        return 0;
      }
      const rows = listed.value.filter((e) => e.phase === 'result').map(flowRow);
      if (rows.length === 0) {
        io.stdout.write('No flows found.\n');
        return 0;
      }
      const widths = fitWidths(rows);
      io.stdout.write(flowHeader(widths) + renderFlowLines(rows, { color, widths }));
      return 0;
    }

    // Follow: replay everything recorded so far (cursor at the start), then live events, until a signal.
    const abort = new AbortController();
    const onSignal = () => abort.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      const query = new URLSearchParams({ follow: '1', cursor: encodeCursor(0), ...(sandbox ? { sandbox } : {}) });
      const streamed = await step(io, 'Error following flows', async () => {
        if (!json) io.stdout.write(flowHeader());
        for await (const line of ndjsonLines(target.value, `/_emulator/flows?${query.toString()}`, abort.signal)) {
          if (!isAuditEvent(line)) continue;
          if (json) io.stdout.write(terminalSafeJson(line) + '\n');
          else if (line.phase === 'result') io.stdout.write(renderFlowLines([flowRow(line)], { color }));
        }
      });
      return streamed.ok ? 0 : 1;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
};

export const run: CliCommand = (args, io) => executeTree(flowsCommand, args, io);
