import type { MiddlewareHandler } from 'hono';
import type { z } from 'zod';
import { ApiError } from '../error-status.js';
import { readJsonBody } from '../body.js';

/**
 * Route middleware that checks an admin request's input and declares its type to hono, so the typed
 * admin client (`hc<AdminApp>`) sends what the route accepts. The handler reads the checked value with
 * `c.req.valid(...)`. Failures are `bad_request` errors, answered by the app's error handler.
 */

/** The JSON body, read as `readJsonBody` does and checked by `check` (which throws an `ApiError`). */
export function jsonBody<In, Out = In>(check: (body: unknown) => Out): MiddlewareHandler<any, string, { in: { json: In }; out: { json: Out } }> {
  return async (c, next) => {
    c.req.addValidatedData('json', check(await readJsonBody(c)) as {});
    await next();
  };
}

/** A JSON body checked with a zod schema; `describe` turns the issues into the error message. */
export const zodJsonBody = <S extends z.ZodType>(schema: S, describe: (error: z.ZodError) => string) =>
  jsonBody<z.input<S>, z.output<S>>((body) => {
    const parsed = schema.safeParse(body);
    if (!parsed.success) throw new ApiError('bad_request', describe(parsed.error));
    return parsed.data;
  });

/** Query parameters checked with a zod schema (values are strings, as they arrive). */
export function zodQuery<S extends z.ZodType<unknown, Record<string, string | undefined>>>(
  schema: S,
  describe: (error: z.ZodError) => string,
): MiddlewareHandler<any, string, { in: { query: z.input<S> }; out: { query: z.output<S> } }> {
  return async (c, next) => {
    const parsed = schema.safeParse(c.req.query());
    if (!parsed.success) throw new ApiError('bad_request', describe(parsed.error));
    c.req.addValidatedData('query', parsed.data as {});
    await next();
  };
}

/**
 * Declares the query parameters a route reads when the handler itself checks them (its messages are
 * part of the API); nothing is checked here.
 */
export function declaredQuery<Q extends Record<string, string | undefined>>(): MiddlewareHandler<any, string, { in: { query: Q }; out: { query: Q } }> {
  return async (_c, next) => {
    await next();
  };
}
