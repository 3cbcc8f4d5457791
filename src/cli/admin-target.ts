import { adminClient, AdminApiError, type AdminClient } from '../api/admin/client.js';
import { UsageError } from './args.js';
import type { CliIo } from './io.js';
import { localApiUrl, noEmulatorTokenMessage } from './s0/emulator-target.js';

/** `--api-url`/`--token` for commands that drive a running emulator's admin API. */
export const adminTargetOptions = { 'api-url': { type: 'string' }, token: { type: 'string' } } as const;

export const adminTargetHelp = `  --api-url <url>     the emulator (default SANDBOX0_BASE_URL, else ${localApiUrl})
  --token <token>     its token (default SANDBOX0_TOKEN)
`;

/** The typed admin client for the emulator the flags or the environment name (a local one by default). */
export function adminFor(values: { 'api-url'?: string; token?: string }, io: CliIo): AdminClient {
  const token = values.token || io.env.SANDBOX0_TOKEN || '';
  if (!token) throw new UsageError(noEmulatorTokenMessage);
  return adminClient(values['api-url'] || io.env.SANDBOX0_BASE_URL || localApiUrl, token);
}

/** An admin call's failure as one line (`Error: 400 bad_request: ...`), or a transport failure. */
export function adminErrorLine(err: unknown): string {
  if (err instanceof AdminApiError) return `Error: ${err.message}\n`;
  const cause = (err as { cause?: { message?: string } }).cause?.message;
  return `Error: ${(err as Error).message}${cause ? `: ${cause}` : ''}\n`;
}
