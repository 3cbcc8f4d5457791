import type { S0Context } from './command-tree.js';
import { apiErrorFromResponse, createS0Client, S0TransportError } from './api-client.js';

/**
 * The emulator's own commands (`flows`, `evaluate`) take `--api-url`/`--token` like the s0 subset,
 * and like every command default to a local emulator (`resolveApiTarget` in ../api-target.ts).
 */
export { localApiUrl } from '../api-target.js';

export const noEmulatorTokenMessage =
  'no API token configured. Set SANDBOX0_TOKEN environment variable or use --token flag (`sandbox-egress-emulator start` prints it)';

export interface EmulatorTarget {
  apiUrl: string;
  token: string;
}

export function emulatorTarget(ctx: S0Context): EmulatorTarget {
  if (!ctx.global.token) throw new Error(noEmulatorTokenMessage);
  return { apiUrl: ctx.global.apiUrl, token: ctx.global.token };
}

/** JSON calls to the emulator's API (envelope unwrapped, errors worded as the s0 subset words them). */
export function emulatorClient(target: EmulatorTarget) {
  return createS0Client(target);
}

/**
 * Opens an NDJSON stream and yields one parsed line at a time until the server ends it or `signal`
 * aborts (then it returns quietly). Lines that are not JSON are skipped: a stream must not crash us.
 */
export async function* ndjsonLines(target: EmulatorTarget, path: string, signal: AbortSignal): AsyncGenerator<unknown> {
  const url = target.apiUrl + path;
  let res: Response;
  try {
    res = await fetch(url, { headers: { authorization: `Bearer ${target.token}`, accept: 'application/x-ndjson' }, signal });
  } catch (err) {
    if (signal.aborted) return;
    const cause = (err as { cause?: { message?: string } }).cause;
    throw new S0TransportError(`Get "${url}": ${cause?.message ?? (err as Error).message}`);
  }
  if (res.status >= 400) throw apiErrorFromResponse(res.status, res.headers.get('content-type') ?? '', await res.text());
  if (!res.body) return;
  const decoder = new TextDecoder();
  let buffered = '';
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line === '') continue;
        try {
          yield JSON.parse(line) as unknown;
        } catch {
          // not a JSON line: skipped
        }
      }
    }
  } catch (err) {
    if (signal.aborted) return;
    throw err;
  }
}
