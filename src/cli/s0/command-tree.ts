import { UsageError } from '../args.js';
import type { CliIo } from '../io.js';
import { FlagError, flagReader, parseFlags, renderFlagHelp, type FlagSpec } from './flags.js';
import { globalFlagSpecs, resolveGlobals, type GlobalOptions } from './global-options.js';

/** The program name shown in usage lines. */
export const programName = 'sandbox-egress-emulator';

export interface S0Context {
  io: CliIo;
  flags: ReturnType<typeof flagReader>;
  args: string[];
  global: GlobalOptions;
}

/** A cobra-like command: groups have subcommands, leaves have `run`. */
export interface S0CommandDef {
  name: string;
  /** `get <sandbox-id>`: the usage line after the parent path. */
  use?: string;
  short: string;
  long?: string;
  flags?: FlagSpec[];
  /** Inherited by every subcommand (cobra's PersistentFlags). */
  persistentFlags?: FlagSpec[];
  /** Persistent flags that must be set (cobra's MarkPersistentFlagRequired). */
  requiredFlags?: string[];
  /** cobra.ExactArgs(n). */
  exactArgs?: number;
  /** cobra.MinimumNArgs(n). */
  minArgs?: number;
  subcommands?: S0CommandDef[];
  run?: (ctx: S0Context) => Promise<number>;
}

const helpFlag = (name: string): FlagSpec => ({ name: 'help', short: 'h', kind: 'bool', usage: `help for ${name}` });

/** Splits the command words off the front of args, the way cobra's Find does (flags may come first). */
function findCommand(root: S0CommandDef, args: readonly string[]) {
  const chain: S0CommandDef[] = [root];
  const rest = [...args];
  const boolFlags = new Set(['--help', '-h']);
  for (;;) {
    const node = chain[chain.length - 1]!;
    if (!node.subcommands?.length) break;
    let wordAt = -1;
    for (let i = 0; i < rest.length; i++) {
      const a = rest[i]!;
      if (a === '--') break;
      if (a.startsWith('-') && a !== '-') {
        // A value-taking flag written as two words eats the next one.
        if (!a.includes('=') && !boolFlags.has(a) && !(a.length > 2 && !a.startsWith('--'))) i++;
        continue;
      }
      wordAt = i;
      break;
    }
    if (wordAt < 0) break;
    const sub = node.subcommands.find((c) => c.name === rest[wordAt]);
    if (!sub) break;
    rest.splice(wordAt, 1);
    chain.push(sub);
  }
  return { chain, rest };
}

function commandPath(chain: readonly S0CommandDef[]): string {
  return [programName, ...chain.map((c) => c.name)].join(' ');
}

function renderHelp(chain: readonly S0CommandDef[]): string {
  const cmd = chain[chain.length - 1]!;
  const path = commandPath(chain);
  const parentPath = commandPath(chain.slice(0, -1));
  const inherited = [...globalFlagSpecs, ...chain.slice(0, -1).flatMap((c) => c.persistentFlags ?? [])];
  const local = [...(cmd.flags ?? []), ...(cmd.persistentFlags ?? []), helpFlag(cmd.name)].sort((a, b) => a.name.localeCompare(b.name));
  let out = `${cmd.long ?? cmd.short}\n\nUsage:\n`;
  if (cmd.run) out += `  ${parentPath} ${cmd.use ?? cmd.name} [flags]\n`;
  if (cmd.subcommands?.length) {
    out += `  ${path} [command]\n\nAvailable Commands:\n`;
    const width = Math.max(...cmd.subcommands.map((c) => c.name.length), 10);
    for (const c of cmd.subcommands) out += `  ${c.name.padEnd(width)} ${c.short}\n`;
  }
  out += `\nFlags:\n${renderFlagHelp(local)}`;
  if (inherited.length) out += `\nGlobal Flags:\n${renderFlagHelp(inherited.sort((a, b) => a.name.localeCompare(b.name)))}`;
  if (cmd.subcommands?.length) out += `\nUse "${path} [command] --help" for more information about a command.\n`;
  return out;
}

/**
 * Runs a command tree like cobra: finds the command, parses global + inherited + local flags,
 * checks required flags and argument counts, prints `Error: ...` and exits 1 on misuse (as `s0` does).
 */
export async function executeTree(root: S0CommandDef, args: readonly string[], io: CliIo): Promise<number> {
  const { chain, rest } = findCommand(root, args);
  const cmd = chain[chain.length - 1]!;
  const path = commandPath(chain);
  const specs = [
    ...globalFlagSpecs,
    ...chain.flatMap((c) => c.persistentFlags ?? []),
    ...(cmd.flags ?? []),
    helpFlag(cmd.name),
  ];
  const fail = (message: string) => {
    io.stderr.write(`Error: ${message}\nRun '${path} --help' for usage.\n`);
    return 1;
  };
  let parsed;
  try {
    parsed = parseFlags(rest, specs);
  } catch (err) {
    if (err instanceof FlagError) return fail(err.message);
    throw err;
  }
  const flags = flagReader(parsed);
  if (flags.bool('help')) {
    io.stdout.write(renderHelp(chain));
    return 0;
  }
  const positionals = [...parsed.positionals, ...parsed.afterDash];
  if (!cmd.run) {
    if (positionals.length > 0) return fail(`unknown command "${positionals[0]}" for "${path}"`);
    io.stdout.write(renderHelp(chain));
    return 0;
  }
  const required = chain.flatMap((c) => c.requiredFlags ?? []).filter((name) => !flags.changed(name));
  if (required.length > 0) return fail(`required flag(s) ${required.map((n) => `"${n}"`).join(', ')} not set`);
  if (cmd.exactArgs !== undefined && positionals.length !== cmd.exactArgs) {
    return fail(`accepts ${cmd.exactArgs} arg(s), received ${positionals.length}`);
  }
  if (cmd.minArgs !== undefined && positionals.length < cmd.minArgs) {
    return fail(`requires at least ${cmd.minArgs} arg(s), only received ${positionals.length}`);
  }
  let global: GlobalOptions;
  try {
    global = resolveGlobals(flags, io.env, (line) => io.stderr.write(`${line}\n`));
  } catch (err) {
    if (err instanceof UsageError) return fail(err.message);
    throw err;
  }
  return cmd.run({ io, flags, args: positionals, global });
}
