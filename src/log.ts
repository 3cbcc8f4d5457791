import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Paths that may hold a secret anywhere in a log record. Secrets are redacted here, at the logger,
 * not at each call site.
 */
export const redactedPaths = [
  'password',
  'token',
  'secret',
  'authorization',
  '*.password',
  '*.token',
  '*.secret',
  '*.authorization',
  '*.*.password',
  '*.*.token',
  'headers.authorization',
  'req.headers.authorization',
  'err.options',
  'error.options',
  'spec',
  '*.spec',
];

export interface LogOptions {
  level?: LoggerOptions['level'];
  /** Where records go; defaults to stderr so stdout stays free for command output. */
  destination?: NodeJS.WritableStream;
}

export function createLogger({ level = process.env.SEE_LOG_LEVEL ?? 'info', destination }: LogOptions = {}): Logger {
  return pino(
    { level, base: { name: 'sandbox-egress-emulator' }, redact: { paths: redactedPaths, censor: '[redacted]' } },
    (destination ?? pino.destination(2)) as pino.DestinationStream,
  );
}

/** A logger that drops everything: the default for library users and tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
