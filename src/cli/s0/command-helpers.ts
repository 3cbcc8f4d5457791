import type { CliIo } from '../io.js';
import { createS0Client, type S0Client } from './api-client.js';
import type { S0Context } from './command-tree.js';
import { noTokenMessage } from './global-options.js';
import { formatOutput } from './output.js';

/** The official CLI's `getClientRaw`: fails without a token, before any request is made. */
export function clientFor(ctx: S0Context, { timeoutMs }: { timeoutMs?: number } = {}): S0Client {
  if (!ctx.global.token) throw new Error(noTokenMessage);
  return createS0Client({ apiUrl: ctx.global.apiUrl, token: ctx.global.token, timeoutMs });
}

/** `<Prefix>: <error>` on stderr and exit code 1, the official CLI's shape for every failure. */
export function failWith(io: CliIo, prefix: string, err: unknown): number {
  io.stderr.write(`${prefix}: ${err instanceof Error ? err.message : String(err)}\n`);
  return 1;
}

/** Runs one step; on failure prints `<prefix>: <error>` and yields undefined, so the caller returns 1. */
export async function step<T>(io: CliIo, prefix: string, fn: () => T | Promise<T>): Promise<{ ok: true; value: T } | { ok: false }> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    failWith(io, prefix, err);
    return { ok: false };
  }
}

export async function printResult(ctx: S0Context, data: unknown, table: () => string): Promise<number> {
  ctx.io.stdout.write(await formatOutput(ctx.global.output, data, table));
  return 0;
}

/** Creates the client, then makes one request with it; either failure prints the official CLI's line and yields `{ ok: false }`. */
export async function request<T>(ctx: S0Context, prefix: string, call: (client: S0Client) => T | Promise<T>): Promise<{ ok: true; value: T } | { ok: false }> {
  const client = await step(ctx.io, 'Error creating client', () => clientFor(ctx));
  if (!client.ok) return client;
  return step(ctx.io, prefix, () => call(client.value));
}

/** A request whose answer is printed: as a table, or as `--output` asks. */
export async function show<T>(ctx: S0Context, prefix: string, call: (client: S0Client) => T | Promise<T>, table: (value: T) => string): Promise<number> {
  const answer = await request(ctx, prefix, call);
  return answer.ok ? printResult(ctx, answer.value, () => table(answer.value)) : 1;
}

/** A request whose success is told in a line of its own (`... deleted successfully`). */
export async function act<T>(ctx: S0Context, prefix: string, call: (client: S0Client) => T | Promise<T>, done: (value: T) => string): Promise<number> {
  const answer = await request(ctx, prefix, call);
  if (!answer.ok) return 1;
  ctx.io.stdout.write(done(answer.value));
  return 0;
}
