import { allowRemoteFlag, resolveApiTarget } from '../api-target.js';
import type { FlagSpec, flagReader } from './flags.js';
import type { OutputFormat } from './output.js';

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
  // Not upstream's: the emulator's CLI never talks to a remote API by default (api-target.ts).
  { name: allowRemoteFlag, kind: 'bool', usage: 'allow an API URL that is not on this machine (default: local emulator only)' },
];

export interface GlobalOptions {
  apiUrl: string;
  /** Empty when none is configured; commands that need the API then fail with `noTokenMessage`. */
  token: string;
  output: OutputFormat;
}

/**
 * Priority as upstream: flag > `SANDBOX0_BASE_URL`/`SANDBOX0_TOKEN`, but the default is the local
 * emulator, never the real platform (`resolveApiTarget`, shared by every command). Profiles in
 * ~/.s0/config.yaml are deliberately not read: a developer's real credentials must never be picked
 * up by a local emulator tool (`--config`/`--profile` are accepted and ignored). Throws UsageError
 * for a remote URL without --allow-remote; `note` gets the stderr line that says a remote URL is used.
 */
export function resolveGlobals(flags: ReturnType<typeof flagReader>, env: NodeJS.ProcessEnv, note: (line: string) => void = () => {}): GlobalOptions {
  const output = flags.str('output');
  const target = resolveApiTarget({ apiUrl: flags.str('api-url'), token: flags.str('token'), allowRemote: flags.bool(allowRemoteFlag) }, env, note);
  return {
    apiUrl: target.apiUrl,
    token: target.token,
    // Upstream's ParseFormat: anything but json/yaml means table.
    output: output === 'json' || output === 'yaml' ? output : 'table',
  };
}
