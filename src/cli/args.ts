import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { CliIo } from './io.js';

/** Bad command-line input: the command reports it with its usage and exits 2. */
export class UsageError extends Error {}

/** `--help` / `-h`: every command and subcommand accepts it. */
export const helpOption = { help: { type: 'boolean', short: 'h' } } as const;

type WithHelp<C extends ParseArgsConfig> = Omit<C, 'options'> & { options: C['options'] & typeof helpOption };

/** What `parseCommandArgs` returns when the command should go on: parseArgs' result, `help` included. */
export type CommandArgs<C extends ParseArgsConfig> = ReturnType<typeof parseArgs<WithHelp<C>>>;

/** A usage error: the message and the command's usage on stderr, exit code 2. */
export function usageFailure(io: CliIo, usage: string, message: string): number {
  io.stderr.write(`Error: ${message}\n\n${usage}`);
  return 2;
}

/**
 * A command's own arguments through node:util parseArgs (strict), with `--help`/`-h` added. Returns
 * the parsed arguments, or the exit code when the command is already done: 0 after printing `usage`
 * to stdout (help was asked for), 2 after printing the error and `usage` to stderr (a usage error).
 */
export function parseCommandArgs<C extends ParseArgsConfig>(io: CliIo, usage: string, config: C): CommandArgs<C> | number {
  let parsed: CommandArgs<C>;
  try {
    parsed = parseArgs({ strict: true, ...config, options: { ...config.options, ...helpOption } } as WithHelp<C>);
  } catch (err) {
    return usageFailure(io, usage, (err as Error).message);
  }
  if ((parsed.values as { help?: boolean }).help) {
    io.stdout.write(usage);
    return 0;
  }
  return parsed;
}

export function parsePort(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new UsageError(`invalid ${flag} "${value}": must be a port number 0-65535`);
  return n;
}

/** Runs a subcommand; its usage errors (thrown after parsing) are reported with its help, exit code 2; other errors as `Error: …`, exit code 1. */
export async function withUsage(help: string, io: CliIo, fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof UsageError) return usageFailure(io, help, err.message);
    io.stderr.write(`Error: ${(err as Error).message}\n`);
    return 1;
  }
}
