import { defaultApiPort, isLoopbackHost } from '../config.js';
import { discoveryVariable, readDiscovery } from '../discovery.js';
import { UsageError } from './args.js';

/** Where every CLI command that talks to an API goes when nothing says otherwise. */
export const localApiUrl = `http://127.0.0.1:${defaultApiPort}`;

/** The flag that lets a command talk to an API that is not on this machine. */
export const allowRemoteFlag = 'allow-remote';

export type ApiUrlOrigin = '--api-url' | 'SANDBOX0_BASE_URL' | typeof discoveryVariable | 'default';

export interface ApiTarget {
  apiUrl: string;
  /** Empty when none is configured (commands then fail with their own "no token" message). */
  token: string;
  urlOrigin: ApiUrlOrigin;
  /** True when the URL is not on this machine (allowed only with --allow-remote). */
  remote: boolean;
}

export interface ApiTargetInput {
  /** `--api-url`, when given. */
  apiUrl?: string;
  /** `--token`, when given. */
  token?: string;
  /** `--allow-remote`. */
  allowRemote?: boolean;
}

function isLocalUrl(url: string): boolean {
  try {
    return isLoopbackHost(new URL(url).hostname);
  } catch {
    throw new UsageError(`invalid API URL "${url}"`);
  }
}

/**
 * The API every command of this CLI talks to (the s0-compatible ones, `flows`, `evaluate`, and any
 * new command): `--api-url`, else `SANDBOX0_BASE_URL`, else the emulator `run` exported
 * (`SEE_EMULATOR`), else the local default port — never the real platform by default. A URL that is
 * not on this machine is refused without `--allow-remote`, and said on stderr (`note`) with it.
 * Token: `--token`, else `SANDBOX0_TOKEN`, else the discovered emulator's, when the URL is its own.
 * Throws UsageError for a refused or malformed URL.
 */
export function resolveApiTarget(input: ApiTargetInput, env: NodeJS.ProcessEnv, note: (line: string) => void): ApiTarget {
  const discovered = readDiscovery(env);
  let apiUrl: string;
  let urlOrigin: ApiUrlOrigin;
  if (input.apiUrl) [apiUrl, urlOrigin] = [input.apiUrl, '--api-url'];
  else if (env.SANDBOX0_BASE_URL) [apiUrl, urlOrigin] = [env.SANDBOX0_BASE_URL, 'SANDBOX0_BASE_URL'];
  else if (discovered) [apiUrl, urlOrigin] = [discovered.apiUrl, discoveryVariable];
  else [apiUrl, urlOrigin] = [localApiUrl, 'default'];
  apiUrl = apiUrl.replace(/\/+$/, '');
  const remote = !isLocalUrl(apiUrl);
  if (remote) {
    if (!input.allowRemote) {
      throw new UsageError(
        `${urlOrigin} is ${apiUrl}, which is not on this machine; this CLI talks to a local emulator unless --${allowRemoteFlag} is given` +
          (urlOrigin === 'SANDBOX0_BASE_URL' ? ' (or unset SANDBOX0_BASE_URL to use the local emulator)' : ''),
      );
    }
    note(`note: talking to ${apiUrl} (${urlOrigin}), not to a local emulator (--${allowRemoteFlag})`);
  }
  const token = input.token || env.SANDBOX0_TOKEN || (discovered && discovered.apiUrl === apiUrl ? discovered.token : '');
  return { apiUrl, token, urlOrigin, remote };
}

/**
 * A token for display: an emulator-generated one (`s0_local_…`) in full, since it only opens this
 * emulator; any other (a real platform key in the environment, one passed with --token) as its first
 * characters and an ellipsis, so no output contains it.
 */
export function displayToken(token: string, { fromEmulator }: { fromEmulator: boolean }): string {
  if (fromEmulator) return token;
  return `${token.slice(0, Math.min(8, Math.floor(token.length / 4)))}… (masked)`;
}
