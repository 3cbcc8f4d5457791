import { adminData } from '../../api/admin/client.js';
import { faultKinds, faultTypes, type FaultDefinitionInput } from '../../test-proxy/faults/registry.js';
import { adminErrorLine, adminFor, adminTargetHelp, adminTargetOptions } from '../admin-target.js';
import { parseCommandArgs, usageFailure, UsageError } from '../args.js';
import type { CliIo } from '../io.js';

/**
 * The running emulator's test proxy, from the customer's side: `proxy users [set U:P...]` and
 * `proxy faults add|list|rm` (Toxiproxy-like), through the admin API.
 */

export const usersHelp = `Usage: sandbox-egress-emulator proxy users [set USER:PASSWORD...] [options]

Lists the running emulator's test proxy users (usernames; passwords are never returned), or replaces
them with 'set' — e.g. the customer rotated the proxy password and the credential source did not follow.

Options:
${adminTargetHelp}  -h, --help          print this help

Examples:
  sandbox-egress-emulator proxy users
  sandbox-egress-emulator proxy users set proxy-user:new-password
  sandbox-egress-emulator proxy users set alice:pw1 bob:pw2
`;

export const faultsHelp = `Usage: sandbox-egress-emulator proxy faults <list|add|rm> [options]

The running emulator's test proxy faults, shaped as Toxiproxy's: {name, type, toxicity, attributes, match}.

  list                       the active faults
  add --type T [options]     add one (or: add '<json definition>')
      --name <name>          default: the type
      --toxicity <0..1>      probability per connection (default 1)
      --attr <key=value>     an attribute (repeatable; numbers and booleans are parsed)
      --match-user <user>    only this proxy user's connections
      --match-host <host>    only CONNECTs to this host (or *.suffix)
      --match-port <port>    only CONNECTs to this port
  rm <name>                  remove one

Types: ${faultTypes.join(', ')}

Options:
${adminTargetHelp}  -h, --help          print this help

Examples:
  sandbox-egress-emulator proxy faults add --type reject_domain_atyp
  sandbox-egress-emulator proxy faults add --type reply_code --attr code=5 --match-host api.internal.example.com
  sandbox-egress-emulator proxy faults add --type reset_after_bytes --attr bytes=1024 --name cut-1k
  sandbox-egress-emulator proxy faults add '{"type":"connect_delay","attributes":{"latencyMs":3000}}'
  sandbox-egress-emulator proxy faults list
  sandbox-egress-emulator proxy faults rm cut-1k
`;

function parseUser(text: string): { username: string; password: string } {
  const i = text.indexOf(':');
  if (i <= 0 || i === text.length - 1) throw new UsageError(`expected USER:PASSWORD, got ${JSON.stringify(text.includes(':') ? text.slice(0, text.indexOf(':') + 1) + '…' : text)}`);
  return { username: text.slice(0, i), password: text.slice(i + 1) };
}

/** `key=value` with the value parsed as JSON when it is a number, boolean or JSON literal. */
export function parseAttribute(text: string): [string, unknown] {
  const i = text.indexOf('=');
  if (i <= 0) throw new UsageError(`--attr expects key=value, got ${JSON.stringify(text)}`);
  const raw = text.slice(i + 1);
  let value: unknown = raw;
  if (/^(-?\d+(\.\d+)?|true|false|null|\[.*\]|\{.*\})$/.test(raw)) {
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
  }
  return [text.slice(0, i), value];
}

export async function usersCommand(args: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(io, usersHelp, { args, allowPositionals: true, options: adminTargetOptions });
  if (typeof parsed === 'number') return parsed;
  const [sub, ...rest] = parsed.positionals;
  if (sub !== undefined && sub !== 'set') throw new UsageError(`unknown command "${sub}" for "proxy users": use set`);
  if (sub === 'set' && rest.length === 0) throw new UsageError('set needs at least one USER:PASSWORD');
  const users = sub === 'set' ? rest.map(parseUser) : undefined;
  const admin = adminFor(parsed.values, io);
  try {
    const data = users ? await adminData(admin.proxy.users.$put({ json: { users } })) : await adminData(admin.proxy.users.$get());
    io.stdout.write(data.users.length ? data.users.map((u) => `${u.username}\n`).join('') : 'No users.\n');
    return 0;
  } catch (err) {
    io.stderr.write(adminErrorLine(err));
    return 1;
  }
}

/** One fault on a line: name, type, toxicity, and its attributes and match when it has any. */
function describeFault(f: { name: string; type: string; toxicity: number; attributes: Record<string, unknown>; match: Record<string, unknown> }): string {
  return `${f.name}  ${f.type}  toxicity=${f.toxicity}${Object.keys(f.attributes).length ? `  attributes=${JSON.stringify(f.attributes)}` : ''}${Object.keys(f.match).length ? `  match=${JSON.stringify(f.match)}` : ''}`;
}

interface FaultFlags {
  type?: string;
  name?: string;
  toxicity?: string;
  attr?: string[];
  'match-user'?: string;
  'match-host'?: string;
  'match-port'?: string;
}

/** `faults add`: a JSON definition as the one argument, or one built from the flags. */
function faultDefinition(rest: string[], values: FaultFlags): FaultDefinitionInput {
  if (rest.length === 1 && rest[0]!.trim().startsWith('{')) {
    try {
      return JSON.parse(rest[0]!) as FaultDefinitionInput;
    } catch {
      throw new UsageError(`add expects a JSON definition, e.g. '{"type":"reject_domain_atyp"}'`);
    }
  }
  if (rest.length) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`);
  if (!values.type) throw new UsageError(`--type is required (one of ${faultTypes.join(', ')})`);
  if (!faultKinds.has(values.type)) throw new UsageError(`unknown fault type ${JSON.stringify(values.type)}; known: ${faultTypes.join(', ')}`);
  const toxicity = values.toxicity === undefined ? undefined : Number(values.toxicity);
  if (toxicity !== undefined && !(toxicity >= 0 && toxicity <= 1)) throw new UsageError('--toxicity is a number between 0 and 1');
  const port = values['match-port'] === undefined ? undefined : Number(values['match-port']);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new UsageError('--match-port is a port number');
  const match = {
    ...(values['match-user'] ? { user: values['match-user'] } : {}),
    ...(values['match-host'] ? { host: values['match-host'] } : {}),
    ...(port !== undefined ? { port } : {}),
  };
  return {
    type: values.type,
    ...(values.name ? { name: values.name } : {}),
    ...(toxicity !== undefined ? { toxicity } : {}),
    ...(values.attr?.length ? { attributes: Object.fromEntries(values.attr.map(parseAttribute)) } : {}),
    ...(Object.keys(match).length ? { match } : {}),
  };
}

export async function faultsCommand(args: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(io, faultsHelp, {
    args,
    allowPositionals: true,
    options: {
      ...adminTargetOptions,
      type: { type: 'string' },
      name: { type: 'string' },
      toxicity: { type: 'string' },
      attr: { type: 'string', multiple: true },
      'match-user': { type: 'string' },
      'match-host': { type: 'string' },
      'match-port': { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const [sub, ...rest] = positionals;
  let run: () => Promise<string>;
  const admin = () => adminFor(values, io);
  switch (sub) {
    case 'list':
    case undefined:
      run = async () => {
        const { faults } = await adminData(admin().proxy.faults.$get());
        if (values.json) return JSON.stringify(faults, null, 2) + '\n';
        return faults.length ? faults.map((f) => describeFault(f) + '\n').join('') : 'No faults.\n';
      };
      break;
    case 'add': {
      const definition = faultDefinition(rest, values);
      run = async () => {
        const f = await adminData(admin().proxy.faults.$post({ json: definition }));
        return values.json ? JSON.stringify(f, null, 2) + '\n' : `added ${describeFault(f)}\n`;
      };
      break;
    }
    case 'rm':
    case 'remove':
    case 'delete': {
      if (rest.length !== 1) throw new UsageError('rm needs the fault name');
      const name = rest[0]!;
      run = async () => {
        await adminData(admin().proxy.faults[':name'].$delete({ param: { name } }));
        return `removed ${name}\n`;
      };
      break;
    }
    default:
      return usageFailure(io, faultsHelp, `unknown command "${sub}" for "proxy faults": use list, add or rm`);
  }
  try {
    io.stdout.write(await run());
    return 0;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    io.stderr.write(adminErrorLine(err));
    return 1;
  }
}
