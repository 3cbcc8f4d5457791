import { resolve } from 'node:path';
import { defaultApiPort, defaultDataDir, defaultHost } from '../../config.js';
import { startEmulator, type Emulator } from '../../emulator.js';
import { discoveryValue, discoveryVariable } from '../../discovery.js';
import { displayToken } from '../api-target.js';
import { parseCommandArgs } from '../args.js';
import type { CliCommand, CliIo } from '../io.js';
import { argvSecretWarnings, emulatorOptionsFromFlags, startFlagOptions, worldFlagsHelp, writeReadyFile } from '../emulator-flags.js';

const help = `Usage: sandbox-egress-emulator start [options]

Options:
  --port <n>          API port (default ${defaultApiPort}; 0 picks a free one; env SEE_PORT)
  --host <addr>       API listen address (default ${defaultHost}); beyond loopback it needs a token of
                      your own (not generated, not a published one)
  --allowed-host <name>  a Host header name the API also answers (repeatable; env SEE_ALLOWED_HOSTS,
                      comma-separated); localhost, 127.0.0.1, [::1] and the listen address always are
  --data-dir <dir>    where state lives (default ${'$SEE_DATA_DIR'} or ~/.local/share/sandbox-egress-emulator)
  --ephemeral         keep all state in memory
  --token-file <f>    API token from the first line of this file (else SEE_TOKEN, else generated and
                      kept in the data dir; never SANDBOX0_TOKEN, which may be a real platform key;
                      a token you give is shown masked)
  --token <token>     API token; visible to every user in ps: prefer --token-file or SEE_TOKEN
  --ready-file <f>    write a JSON file with URLs, ports and credentials once everything listens
  --log-level <lvl>   trace|debug|info|warn|error|silent (default info; env SEE_LOG_LEVEL)
${worldFlagsHelp}  -h, --help          print this help
`;

export const run: CliCommand = async (args, io) => {
  const parsed = parseCommandArgs(io, help, { args, options: startFlagOptions });
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  let options;
  try {
    options = emulatorOptionsFromFlags(values, io.env, { port: defaultApiPort, ephemeral: false, dataDir: defaultDataDir(io.env), logLevel: 'info' });
    for (const warning of argvSecretWarnings(values)) io.stderr.write(warning);
  } catch (err) {
    io.stderr.write(`Error: ${(err as Error).message}\n`);
    return 2;
  }
  const logger = options.logger!;
  const tokenGiven = Boolean(values.token || io.env.SEE_TOKEN);
  noteIgnoredPlatformToken(io, tokenGiven);
  // The ready file carries the token: hidden from transparent sandboxes like the data dir.
  if (values['ready-file']) options.sandboxMaskPaths = [resolve(values['ready-file'])];

  // A last line of defence: a promise rejected by a bug somewhere in a data path is logged, not fatal.
  process.on('unhandledRejection', (reason) => logger.error({ err: { message: reason instanceof Error ? reason.message : String(reason) } }, 'unhandled rejection'));

  // Signals are handled from before start-up: whoever reads the ready file or the banner may stop us
  // at once, and a signal that arrives while starting stops the emulator as soon as it is up.
  let requested: string | undefined;
  let onSignal = (signal: string) => void (requested ??= signal);
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  const removeHandlers = () => {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  };

  let emulator: Emulator;
  try {
    // startEmulator warns when --host is beyond loopback.
    emulator = await startEmulator(options);
  } catch (err) {
    removeHandlers();
    throw err;
  }
  if (!requested) {
    if (values['ready-file']) writeReadyFile(values['ready-file'], emulator);
    printBanner(io, emulator, tokenGiven, values['ready-file'] ? resolve(values['ready-file']) : undefined);
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    onSignal = (signal: string) => {
      if (stopping) {
        // A second signal while stopping: the default action (exit now).
        removeHandlers();
        process.kill(process.pid, signal);
        return;
      }
      // The handlers stay while stopping: others listening for this signal (the transparent backend)
      // see that someone handles it and leave the exit to us.
      stopping = true;
      logger.info({ signal }, 'stopping');
      emulator.stop().then(
        () => resolve(0),
        () => resolve(1),
      ).finally(removeHandlers);
    };
    if (requested) onSignal(requested);
  });
};

/** `SANDBOX0_TOKEN` is not adopted (config.ts resolveToken); say so, without printing it. */
export function noteIgnoredPlatformToken(io: CliIo, tokenGiven: boolean): void {
  if (io.env.SANDBOX0_TOKEN && !tokenGiven) {
    io.stderr.write('note: SANDBOX0_TOKEN is set but not used: the emulator uses its own token (choose one with --token or SEE_TOKEN)\n');
  }
}

/** A token the user gave (--token, SEE_TOKEN) did not come from the emulator: it is shown masked. */
function printBanner(io: CliIo, emulator: Emulator, tokenGiven: boolean, readyFile?: string) {
  const info = emulator.info();
  const token = displayToken(emulator.token, { fromEmulator: !tokenGiven });
  const lines = [
    `sandbox-egress-emulator ${info.version}`,
    `  API          ${emulator.apiUrl}`,
    `  token        ${token}`,
    `  state        ${info.ephemeral ? 'in memory (--ephemeral)' : info.dataDir}`,
    `  interception ${info.interception.mode} (${info.interception.reason})`,
    ...(info.interception.sandboxUser ? [`  sandbox user ${info.interception.sandboxUser}`] : []),
    ...(info.interception.limitations ?? []).map((l) => `  limitation   ${l}`),
    `  platform DNS ${info.platformDns.passthrough ? "view records, then the host's resolver (--platform-dns-passthrough)" : 'view records only'}`,
  ];
  if (info.testProxy) {
    const u = emulator.proxy?.users[0];
    lines.push(`  test proxy   socks5://${info.testProxy.address}${u ? ` user ${u.username} / ${u.password}` : ''}`);
  }
  lines.push('', `  export SANDBOX0_BASE_URL=${emulator.apiUrl}`, tokenGiven ? '  export SANDBOX0_TOKEN=<the token you gave>' : `  export SANDBOX0_TOKEN=${emulator.token}`);
  // What the vitest setup and attachOrStartEmulator attach to (as under `run --`), instead of starting their own.
  if (!tokenGiven) lines.push(`  export ${discoveryVariable}='${discoveryValue({ apiUrl: emulator.apiUrl, token: emulator.token, readyFile })}'`);
  lines.push('');
  io.stdout.write(lines.join('\n') + '\n');
}
