import { spawn, type StdioOptions } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { discoveryValue, discoveryVariable } from '../../discovery.js';
import { startEmulator, type Emulator } from '../../emulator.js';
import { parseCommandArgs, usageFailure } from '../args.js';
import type { CliCommand, CliIo } from '../io.js';
import { argvSecretWarnings, emulatorOptionsFromFlags, startFlagOptions, worldFlagsHelp, writeReadyFile } from '../emulator-flags.js';
import { noteIgnoredPlatformToken } from './start.js';

const help = `Usage: sandbox-egress-emulator run [options] -- <command> [args...]

Starts the emulator (in memory, on a free port), runs the command with these variables set,
stops the emulator and exits with the command's exit code:
  SANDBOX0_BASE_URL, SANDBOX0_TOKEN   what the official SDK and s0 CLI read
  SEE_API_URL, SEE_TOKEN              the same, under the emulator's own names
  SEE_PROXY_ADDRESS, SEE_PROXY_USERNAME, SEE_PROXY_PASSWORD
                                      the embedded SOCKS5 test proxy, when it runs
  SEE_EMULATOR                        {"apiUrl","token","readyFile"} as JSON: the vitest setup, the
                                      library (attachOrStartEmulator) and this CLI use this emulator
                                      instead of starting their own

Options:
  --port <n>          API port (default 0: a free one)
  --host <addr>       API listen address (default 127.0.0.1); beyond loopback it needs a token of your own
  --allowed-host <name>  a Host header name the API also answers (repeatable; env SEE_ALLOWED_HOSTS,
                      comma-separated); localhost, 127.0.0.1, [::1] and the listen address always are
  --data-dir <dir>    keep state in this directory instead of in memory
  --ephemeral         keep all state in memory (the default)
  --token-file <f>    API token from the first line of this file (else SEE_TOKEN, else generated;
                      never SANDBOX0_TOKEN, which may be a real platform key)
  --token <token>     API token; visible to every user in ps: prefer --token-file or SEE_TOKEN
  --ready-file <f>    also write the ready file (JSON: URLs, ports, credentials)
  --log-level <lvl>   trace|debug|info|warn|error|silent (default warn; env SEE_LOG_LEVEL)
${worldFlagsHelp}  -h, --help          print this help
`;

const options = startFlagOptions;

/** Splits `[options] -- command...`; without `--`, the first word that is not an option starts the command. */
export function splitRunArgs(args: readonly string[]): { own: string[]; command: string[] } {
  const dash = args.indexOf('--');
  if (dash >= 0) return { own: args.slice(0, dash), command: args.slice(dash + 1) };
  const takesValue = new Set(Object.entries(options).filter(([, o]) => o.type === 'string').map(([name]) => `--${name}`));
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('-')) return { own: args.slice(0, i), command: args.slice(i) };
    if (takesValue.has(a)) i++;
  }
  return { own: [...args], command: [] };
}

/** The environment the command runs with: the caller's, plus where the emulator and its test proxy are. */
export function commandEnv(emulator: Emulator, base: NodeJS.ProcessEnv, readyFile?: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...base,
    SANDBOX0_BASE_URL: emulator.apiUrl,
    SANDBOX0_TOKEN: emulator.token,
    SEE_API_URL: emulator.apiUrl,
    SEE_TOKEN: emulator.token,
    [discoveryVariable]: discoveryValue({ apiUrl: emulator.apiUrl, token: emulator.token, readyFile }),
  };
  const proxy = emulator.info().testProxy;
  if (proxy) {
    env.SEE_PROXY_ADDRESS = proxy.address;
    const user = emulator.proxy?.users[0];
    if (user) {
      env.SEE_PROXY_USERNAME = user.username;
      env.SEE_PROXY_PASSWORD = user.password;
    }
  }
  return env;
}

/** Shell convention for a child killed by a signal: 128 + the signal number. */
function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  if (signal) return 128 + (constants.signals[signal] ?? 0);
  return 1;
}

const forwardedSignals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Runs the command to completion with signals forwarded; resolves to its exit code (127 if it cannot start). */
function runCommand(command: string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  // Inherit the real terminal when the CLI runs as a process; pipe into the injected streams in tests.
  const stdio: StdioOptions = ['inherit', io.stdout === process.stdout ? 'inherit' : 'pipe', io.stderr === process.stderr ? 'inherit' : 'pipe'];
  const child = spawn(command[0]!, command.slice(1), { stdio, env });
  child.stdout?.pipe(io.stdout, { end: false });
  child.stderr?.pipe(io.stderr, { end: false });
  const handlers = forwardedSignals.map((signal) => {
    const handler = () => {
      child.kill(signal);
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  return new Promise<number>((resolve) => {
    let settled = false;
    const settle = (code: number) => {
      if (settled) return;
      settled = true;
      for (const [signal, handler] of handlers) process.off(signal, handler);
      resolve(code);
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      io.stderr.write(`Error: cannot run "${command[0]}": ${err.code === 'ENOENT' ? 'command not found' : err.message}\n`);
      settle(err.code === 'ENOENT' ? 127 : 126);
    });
    child.once('close', (code, signal) => settle(exitCodeOf(code, signal)));
  });
}

export const run: CliCommand = async (args, io) => {
  const { own, command } = splitRunArgs(args);
  const parsed = parseCommandArgs(io, help, { args: own, allowPositionals: false, options });
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  if (command.length === 0) return usageFailure(io, help, 'a command to run is required after --');
  let emulatorOptions;
  try {
    emulatorOptions = emulatorOptionsFromFlags(values, io.env, { port: 0, ephemeral: true, logLevel: 'warn' });
    for (const warning of argvSecretWarnings(values)) io.stderr.write(warning);
  } catch (err) {
    io.stderr.write(`Error: ${(err as Error).message}\n`);
    return 2;
  }
  const logger = emulatorOptions.logger!;
  noteIgnoredPlatformToken(io, Boolean(values.token || io.env.SEE_TOKEN));

  let emulator: Emulator;
  try {
    emulator = await startEmulator(emulatorOptions);
  } catch (err) {
    io.stderr.write(`Error: cannot start the emulator: ${(err as Error).message}\n`);
    return 1;
  }
  // Without --ready-file, one in a private directory of our own, named in SEE_EMULATOR, removed at the end.
  const ownDir = values['ready-file'] ? undefined : mkdtempSync(join(tmpdir(), 'see-run-'));
  const readyFile = values['ready-file'] ?? join(ownDir!, 'ready.json');
  try {
    writeReadyFile(readyFile, emulator);
    logger.info({ apiUrl: emulator.apiUrl, command: command[0] }, 'running command');
    return await runCommand(command, commandEnv(emulator, io.env, readyFile), io);
  } finally {
    await emulator.stop();
    if (ownDir) rmSync(ownDir, { recursive: true, force: true });
  }
};
