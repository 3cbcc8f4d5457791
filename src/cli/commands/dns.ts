import { adminData } from '../../api/admin/client.js';
import { adminErrorLine, adminFor, adminTargetHelp, adminTargetOptions } from '../admin-target.js';
import { parseCommandArgs, usageFailure, UsageError } from '../args.js';
import type { CliCommand, CliIo } from '../io.js';

/**
 * `dns platform|customer [set|rm]`: a running emulator's DNS views. The platform view is what
 * sandboxes resolve and what the gateway verifies hosts with (the cluster DNS); the customer view is
 * what the test proxy resolves names to, behind the proxy.
 */

const help = `Usage: sandbox-egress-emulator dns <platform|customer> [set|rm ...] [options]

A running emulator's DNS views:
  platform   the cluster DNS: what sandboxes resolve and what the gateway verifies hosts against
             (name → addresses; a name:port record routes a proxy endpoint)
  customer   behind the test proxy: where a CONNECT to a name goes (name[:port] → host:port)

Commands:
  dns platform                         list the platform records
  dns platform set NAME ADDR [ADDR...] set a record (replaces that name's addresses)
  dns platform rm NAME                 remove a record
  dns customer                         list the customer records
  dns customer set NAME[:PORT] HOST:PORT
  dns customer rm NAME[:PORT]

Options:
  --json              print the view as JSON
${adminTargetHelp}  -h, --help          print this help

Examples:
  sandbox-egress-emulator dns platform set db.corp.example.com 198.18.0.53
  sandbox-egress-emulator dns platform rm db.corp.example.com
  sandbox-egress-emulator dns customer set db.corp.example.com:5432 127.0.0.1:5432
  sandbox-egress-emulator dns customer --json
`;

function table(records: Record<string, string | string[]>): string {
  const entries = Object.entries(records).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return 'No records.\n';
  const width = Math.max(...entries.map(([k]) => k.length));
  return entries.map(([k, v]) => `${k.padEnd(width)}  ${Array.isArray(v) ? v.join(', ') : v}\n`).join('');
}

async function dns(args: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(io, help, { args, allowPositionals: true, options: { ...adminTargetOptions, json: { type: 'boolean' } } });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const [view, sub, ...rest] = positionals;
  if (view !== 'platform' && view !== 'customer') throw new UsageError(view === undefined ? 'a view is required: platform or customer' : `unknown view "${view}": platform or customer`);
  if (sub !== undefined && sub !== 'set' && sub !== 'rm') throw new UsageError(`unknown command "${sub}" for "dns ${view}": use set or rm`);
  if (sub === 'set' && (view === 'platform' ? rest.length < 2 : rest.length !== 2)) throw new UsageError(view === 'platform' ? 'set needs NAME ADDR [ADDR...]' : 'set needs NAME[:PORT] HOST:PORT');
  if (sub === 'rm' && rest.length !== 1) throw new UsageError('rm needs the record name');
  const admin = adminFor(values, io);
  const print = (records: Record<string, string | string[]>) => io.stdout.write(values.json ? JSON.stringify({ records }, null, 2) + '\n' : table(records));
  try {
    if (view === 'platform') {
      const { records } = await adminData(admin.dns.platform.$get());
      if (sub === undefined) return print(records), 0;
      const next = { ...records };
      if (sub === 'set') next[rest[0]!] = rest.slice(1);
      else if (!(rest[0]! in next)) throw new UsageError(`no platform record ${JSON.stringify(rest[0])}`);
      else delete next[rest[0]!];
      print((await adminData(admin.dns.platform.$put({ json: { records: next } }))).records);
    } else {
      const { records } = await adminData(admin.dns.customer.$get());
      if (sub === undefined) return print(records), 0;
      const next = { ...records };
      if (sub === 'set') next[rest[0]!] = rest[1]!;
      else if (!(rest[0]! in next)) throw new UsageError(`no customer record ${JSON.stringify(rest[0])}`);
      else delete next[rest[0]!];
      print((await adminData(admin.dns.customer.$put({ json: { records: next } }))).records);
    }
    return 0;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    io.stderr.write(adminErrorLine(err));
    return 1;
  }
}

export const run: CliCommand = async (args, io) => {
  try {
    return await dns(args, io);
  } catch (err) {
    if (err instanceof UsageError) return usageFailure(io, help, err.message);
    io.stderr.write(`Error: ${(err as Error).message}\n`);
    return 1;
  }
};
