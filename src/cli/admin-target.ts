import { adminClient, AdminApiError, type AdminClient } from '../api/admin/client.js';
import { UsageError } from './args.js';
import type { CliIo } from './io.js';
import { allowRemoteFlag, localApiUrl, resolveApiTarget } from './api-target.js';
import { noEmulatorTokenMessage } from './s0/emulator-target.js';

/** `--api-url`/`--token` for commands that drive a running emulator's admin API. */
export const adminTargetOptions = { 'api-url': { type: 'string' }, token: { type: 'string' }, [allowRemoteFlag]: { type: 'boolean' } } as const;

export const adminTargetHelp = `  --api-url <url>     the emulator (default SANDBOX0_BASE_URL, else the one \`run\` started, else ${localApiUrl})
  --token <token>     its token (default SANDBOX0_TOKEN, else the discovered emulator's)
  --allow-remote      allow an API URL that is not on this machine
`;

/** The typed admin client for the emulator the flags or the environment name (a local one by default). */
export function adminFor(values: { 'api-url'?: string; token?: string; 'allow-remote'?: boolean }, io: CliIo): AdminClient {
  const target = resolveApiTarget({ apiUrl: values['api-url'], token: values.token, allowRemote: values['allow-remote'] }, io.env, (line) => io.stderr.write(`${line}\n`));
  if (!target.token) throw new UsageError(noEmulatorTokenMessage);
  return adminClient(target.apiUrl, target.token);
}

/** An admin call's failure as one line (`Error: 400 bad_request: ...`), or a transport failure. */
export function adminErrorLine(err: unknown): string {
  if (err instanceof AdminApiError) return `Error: ${err.message}\n`;
  const cause = (err as { cause?: { message?: string } }).cause?.message;
  return `Error: ${(err as Error).message}${cause ? `: ${cause}` : ''}\n`;
}
