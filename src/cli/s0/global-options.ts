import type { FlagSpec, flagReader } from './flags.js';
import type { OutputFormat } from './output.js';

/** Upstream's default (`internal/config/config.go`); only contacted when the user sets nothing else. */
export const defaultApiUrl = 'https://api.sandbox0.ai';

/** `s0`'s message when no token is found (`internal/commands/root.go` ErrNoToken), kept verbatim. */
export const noTokenMessage =
  'no API token configured. Set SANDBOX0_TOKEN environment variable, use --token flag, or run `s0 auth login`';

/** The official CLI's persistent root flags (`internal/commands/root.go`). */
export const globalFlagSpecs: FlagSpec[] = [
  { name: 'config', short: 'c', kind: 'string', usage: 'config file (default is ~/.s0/config.yaml)' },
  { name: 'output', short: 'o', kind: 'string', usage: 'output format (table, json, yaml)', defaultValue: 'table' },
  { name: 'profile', short: 'p', kind: 'string', usage: 'profile name (default is "default")' },
  { name: 'api-url', kind: 'string', usage: 'override API URL' },
  { name: 'token', kind: 'string', usage: 'override API token' },
];

export interface GlobalOptions {
  apiUrl: string;
  /** Empty when none is configured; commands that need the API then fail with `noTokenMessage`. */
  token: string;
  output: OutputFormat;
}

/**
 * Priority as upstream: flag > `SANDBOX0_BASE_URL`/`SANDBOX0_TOKEN` > default. Profiles in
 * ~/.s0/config.yaml are deliberately not read: a developer's real credentials must never be picked
 * up by a local emulator tool (`--config`/`--profile` are accepted and ignored).
 */
export function resolveGlobals(flags: ReturnType<typeof flagReader>, env: NodeJS.ProcessEnv): GlobalOptions {
  const output = flags.str('output');
  return {
    apiUrl: flags.str('api-url') || env.SANDBOX0_BASE_URL || defaultApiUrl,
    token: flags.str('token') || env.SANDBOX0_TOKEN || '',
    // Upstream's ParseFormat: anything but json/yaml means table.
    output: output === 'json' || output === 'yaml' ? output : 'table',
  };
}
