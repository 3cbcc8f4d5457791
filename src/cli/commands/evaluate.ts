import { appProtocols } from '../../policy/types.js';
import type { CliCommand } from '../io.js';
import { step } from '../s0/command-helpers.js';
import { executeTree, type S0CommandDef } from '../s0/command-tree.js';
import { emulatorClient, emulatorTarget } from '../s0/emulator-target.js';

/**
 * `evaluate -s ID --host H|--ip IP --port P [--transport udp] [--app-protocol P]`: a dry run of the
 * gateway's decision for a flow the sandbox might open (`POST /_emulator/sandboxes/{id}/evaluate`).
 */

type Data = Record<string, unknown>;

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/** The decision as aligned `Label: value` lines, ending with the explanation (pure). */
export function renderEvaluation(r: Data): string {
  const lines: [string, string][] = [];
  if (r.flowStarts === false) {
    // No connection leaves the sandbox, so the action is deny, but no policy phase decided it.
    lines.push(['Decision', `${str(r.action) ?? 'deny'} (no flow starts)`]);
    lines.push(['Reason', str(r.reason) ?? '']);
    if (str(r.host)) lines.push(['Host', `${str(r.host)!} (does not resolve in the sandbox)`]);
  } else {
    const action = str(r.action) ?? '';
    lines.push(['Decision', `${action === 'deny' ? 'deny' : `allow (${action})`}`]);
    lines.push(['Reason', str(r.reason) ?? '']);
    if (str(r.matchedRule)) lines.push(['Matched rule', str(r.matchedRule)!]);
    if (str(r.phase)) lines.push(['Phase', str(r.phase)!]);
    const dest = r.destination as { ip?: string; port?: number; resolvedFrom?: string } | undefined;
    if (dest?.ip) {
      const ip = dest.ip.includes(':') ? `[${dest.ip}]` : dest.ip;
      lines.push(['Destination', `${ip}:${dest.port}${dest.resolvedFrom ? ` (${dest.resolvedFrom} as the sandbox resolves it)` : ''}`]);
    }
    const cls = r.classification as { kind?: string; appProtocol?: string; host?: string; reason?: string } | undefined;
    if (cls) lines.push(['Classified', cls.kind === 'known' ? `${cls.appProtocol}${cls.host ? `, host ${cls.host}` : ''}` : `unknown (${cls.reason ?? ''})`]);
    if (str(r.route)) {
      const t = r.proxyTarget as { atyp?: string; host?: string; port?: number } | undefined;
      const via = r.route === 'proxy' ? ` via socks5://${str(r.proxyAddress) ?? '?'}${t ? `, CONNECT ${t.host}:${t.port} (${t.atyp})` : ''}` : '';
      lines.push(['Route', `${r.route}${via}`]);
    }
  }
  lines.push(['Why', str(r.explanation) ?? '']);
  const width = Math.max(...lines.map(([k]) => k.length)) + 1;
  return lines.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}\n`).join('');
}

export const evaluateCommand: S0CommandDef = {
  name: 'evaluate',
  short: 'Show what the gateway would decide for a flow, and why',
  long: `Dry-run the gateway's decision for a flow the sandbox might open: the verdict, the reason code,
the matched rule, the route (direct or through the SOCKS5 proxy, with the CONNECT target) and why.
A --host without --ip is resolved as the sandbox would resolve it.`,
  flags: [
    { name: 'sandbox-id', short: 's', kind: 'string', usage: 'sandbox ID (required)' },
    { name: 'host', kind: 'string', usage: 'destination host name (TLS SNI / HTTP Host the client would send)' },
    { name: 'ip', kind: 'string', usage: 'destination IP address (the one the sandbox dials)' },
    { name: 'port', kind: 'int', usage: 'destination port (required)' },
    { name: 'transport', kind: 'string', usage: 'tcp or udp', defaultValue: 'tcp' },
    { name: 'app-protocol', kind: 'string', usage: `what the gateway would classify: ${appProtocols.join(', ')}` },
    { name: 'json', kind: 'bool', usage: 'print the result as JSON (also -o json)' },
  ],
  requiredFlags: ['sandbox-id', 'port'],
  exactArgs: 0,
  async run(ctx) {
    const { io, flags } = ctx;
    const target = await step(io, 'Error', () => emulatorTarget(ctx));
    if (!target.ok) return 1;
    const request = await step(io, 'Error', () => {
      const host = flags.str('host');
      const ip = flags.str('ip');
      if (host === '' && ip === '') throw new Error('--host or --ip is required');
      const transport = flags.str('transport');
      if (transport !== 'tcp' && transport !== 'udp') throw new Error(`invalid --transport "${transport}": must be tcp or udp`);
      const appProtocol = flags.str('app-protocol');
      if (appProtocol !== '' && !(appProtocols as readonly string[]).includes(appProtocol)) {
        throw new Error(`invalid --app-protocol "${appProtocol}": must be one of ${appProtocols.join(', ')}`);
      }
      const port = flags.int('port');
      if (port < 1 || port > 65535) throw new Error(`invalid --port ${port}: must be 1-65535`);
      return { ...(host ? { host } : {}), ...(ip ? { ip } : {}), port, transport, ...(appProtocol ? { appProtocol } : {}) };
    });
    if (!request.ok) return 1;
    const result = await step(io, 'Error evaluating flow', () => emulatorClient(target.value).evaluateFlow(flags.str('sandbox-id'), request.value));
    if (!result.ok) return 1;
    io.stdout.write(flags.bool('json') || ctx.global.output === 'json' ? JSON.stringify(result.value, null, 2) + '\n' : renderEvaluation(result.value));
    return 0;
  },
};

export const run: CliCommand = (args, io) => executeTree(evaluateCommand, args, io);
