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
A --host without --ip is resolved as the sandbox would resolve it.
QUIC (HTTP/3) is UDP classified by the SNI of its Initial: --app-protocol quic (SNI = --host) or
--quic-sni NAME; the explanation says when a rule allows only TCP and that, with a SOCKS5 proxy
configured, QUIC is never proxied (the emulator rejects it: quic_not_proxied).

Examples:
  sandbox-egress-emulator evaluate -s sb-1 --host api.internal.example.com --port 443
  sandbox-egress-emulator evaluate -s sb-1 --host api.internal.example.com --port 443 --app-protocol quic
  sandbox-egress-emulator evaluate -s sb-1 --ip 198.18.0.10 --port 443 --quic-sni api.internal.example.com`,
  flags: [
    { name: 'sandbox-id', short: 's', kind: 'string', usage: 'sandbox ID (required)' },
    { name: 'host', kind: 'string', usage: 'destination host name (TLS SNI / HTTP Host the client would send)' },
    { name: 'ip', kind: 'string', usage: 'destination IP address (the one the sandbox dials)' },
    { name: 'port', kind: 'int', usage: 'destination port (required)' },
    { name: 'transport', kind: 'string', usage: 'tcp or udp', defaultValue: 'tcp' },
    { name: 'app-protocol', kind: 'string', usage: `what the gateway would classify: ${appProtocols.join(', ')}, or quic (UDP with the --host as SNI)` },
    { name: 'quic-sni', kind: 'string', usage: 'a QUIC Initial (UDP) whose SNI is this name (default: --host)' },
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
      const quicSni = flags.str('quic-sni');
      const appProtocol = flags.str('app-protocol');
      // QUIC is UDP classified by its Initial's SNI: not an app protocol of the policy, so it sets the transport.
      const quic = appProtocol === 'quic' || quicSni !== '';
      const transport = quic ? 'udp' : flags.str('transport');
      if (transport !== 'tcp' && transport !== 'udp') throw new Error(`invalid --transport "${transport}": must be tcp or udp`);
      if (quic && flags.changed('transport') && flags.str('transport') !== 'udp') throw new Error('QUIC is UDP: --transport must be udp (or left out) with --app-protocol quic / --quic-sni');
      if (!quic && appProtocol !== '' && !(appProtocols as readonly string[]).includes(appProtocol)) {
        throw new Error(`invalid --app-protocol "${appProtocol}": must be one of ${appProtocols.join(', ')}, quic`);
      }
      if (quic && host === '' && quicSni === '') throw new Error('--host or --quic-sni is required with --app-protocol quic (the Initial\'s SNI)');
      const port = flags.int('port');
      if (port < 1 || port > 65535) throw new Error(`invalid --port ${port}: must be 1-65535`);
      return {
        ...(host ? { host } : {}),
        ...(ip ? { ip } : {}),
        port,
        transport,
        ...(appProtocol && !quic ? { appProtocol } : {}),
        ...(quicSni ? { sni: quicSni } : {}),
      };
    });
    if (!request.ok) return 1;
    const result = await step(io, 'Error evaluating flow', () => emulatorClient(target.value).evaluateFlow(flags.str('sandbox-id'), request.value));
    if (!result.ok) return 1;
    io.stdout.write(flags.bool('json') || ctx.global.output === 'json' ? JSON.stringify(result.value, null, 2) + '\n' : renderEvaluation(result.value));
    return 0;
  },
};

export const run: CliCommand = (args, io) => executeTree(evaluateCommand, args, io);
