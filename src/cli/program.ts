import { usageFailure } from './args.js';
import type { CliCommand, CliIo } from './io.js';

/** The CLI itself, apart from the bin entry (`main.ts`), so tests run it in-process. */

export const usage = `Usage: sandbox-egress-emulator <command> [options]

Commands:
  start                 start the emulator (API, state, test proxy)
  proxy serve|check     run the SOCKS5 test proxy alone, or diagnose any SOCKS5 proxy
  proxy users|faults    a running emulator's test proxy users and faults
  dns platform|customer a running emulator's DNS views (list, set, rm)
  run -- <command>      start in memory, run the command against it, stop, exit with its code
  sandbox               s0-compatible: sandbox create|get|list|delete|exec, sandbox network get|update
  credential            s0-compatible: credential list|get|create|update|delete
  flows                 the gateway's flows as a table (--follow, --sandbox ID, --json)
  evaluate              what the gateway would decide for a flow, and why (-s ID --host H --port P)
  scenario              run, record and validate scenario files (a customer's setup and steps as YAML)
  detect                which interception modes work here, why not, and the command that fixes it

Options:
  -v, --version         print the version
  -h, --help            print this help

Run 'sandbox-egress-emulator <command> --help' (or 'help <command>') for a command's options.
`;

/** Commands are loaded lazily so that `start` pays only for what it uses. */
const commands: Record<string, () => Promise<CliCommand>> = {
  start: async () => (await import('./commands/start.js')).run,
  proxy: async () => (await import('./commands/proxy.js')).run,
  run: async () => (await import('./commands/run.js')).run,
  sandbox: async () => (await import('./commands/sandbox.js')).run,
  credential: async () => (await import('./commands/credential.js')).run,
  flows: async () => (await import('./commands/flows.js')).run,
  evaluate: async () => (await import('./commands/evaluate.js')).run,
  scenario: async () => (await import('./commands/scenario.js')).run,
  dns: async () => (await import('./commands/dns.js')).run,
  detect: async () => (await import('./commands/detect.js')).run,
};

/**
 * Runs the CLI on its arguments (without node and the script) and resolves to the exit code. Help
 * goes to stdout with exit code 0; usage errors go to stderr with exit code 2 (the s0-compatible
 * commands keep the official CLI's exit code 1).
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v' || name === 'version') {
    const { packageVersion } = await import('../paths.js');
    io.stdout.write(`${packageVersion}\n`);
    return 0;
  }
  if (name === '--help' || name === '-h' || (name === 'help' && rest.length === 0)) {
    io.stdout.write(usage);
    return 0;
  }
  if (name === undefined) return usageFailure(io, usage, 'a command is required');
  // `help <command> [subcommand...]` is `<command> [subcommand...] --help`.
  const [command, args] = name === 'help' ? [rest[0]!, [...rest.slice(1), '--help']] : [name, rest];
  const load = commands[command];
  if (!load) return usageFailure(io, usage, `unknown command "${command}" for "sandbox-egress-emulator"`);
  return (await load())(args, io);
}
