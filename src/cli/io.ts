/** What a CLI command gets from the outside world; injected so commands can be tested in-process. */
export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  /** Where a command reads a secret given as `-` (default: the process's stdin). */
  stdin?: NodeJS.ReadableStream;
}

/** A command takes its own arguments (after the command words) and resolves to an exit code. */
export type CliCommand = (args: string[], io: CliIo) => Promise<number>;

export const processIo = (): CliIo => ({ stdout: process.stdout, stderr: process.stderr, env: process.env, stdin: process.stdin });
