#!/usr/bin/env node
import { processIo, type CliCommand, type CliIo } from './io.js';

const usage = `Usage: sandbox-egress-emulator <command> [options]

Commands:
  start                 start the emulator (API, state, test proxy)
  proxy serve|check     run the SOCKS5 test proxy alone, or diagnose any SOCKS5 proxy
  run -- <command>      start in memory, run the command against it, stop, exit with its code
  sandbox               s0-compatible: sandbox create|get|list|delete|exec, sandbox network get|update
  credential            s0-compatible: credential list|get|create|update|delete
  flows                 the gateway's flows as a table (--follow, --sandbox ID, --json)
  evaluate              what the gateway would decide for a flow, and why (-s ID --host H --port P)

Options:
  --version             print the version
  --help                print this help

Run 'sandbox-egress-emulator <command> --help' for a command's options.
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
};

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v' || name === 'version') {
    const { packageVersion } = await import('../paths.js');
    io.stdout.write(`${packageVersion}\n`);
    return 0;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(usage);
    return name === undefined ? 2 : 0;
  }
  const load = commands[name];
  if (!load) {
    io.stderr.write(`Error: unknown command "${name}" for "sandbox-egress-emulator"\n\n${usage}`);
    return 2;
  }
  return (await load())(rest, io);
}

main(process.argv.slice(2), processIo()).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
