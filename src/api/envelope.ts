import type { Context, TypedResponse } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ApiError } from './error-status.js';

/**
 * Upstream envelope (pkg/gateway/spec/response.go): `{"success":true,"data":…}` or
 * `{"success":false,"error":{"code","message","details"?}}`; `data`/`details` are left out when empty.
 */
export interface SuccessEnvelope<T> {
  success: true;
  data?: T;
}

export interface ErrorEnvelope {
  success: false;
  error: { code: string; message: string; details?: unknown };
}

export function ok<T>(c: Context, data: T, status: ContentfulStatusCode = 200): Response {
  const body: SuccessEnvelope<T> = data === undefined || data === null ? { success: true } : { success: true, data };
  return c.json(body, status);
}

/**
 * A success envelope as a typed client reads it: `data` is present unless the value can be empty
 * (undefined or null), in which case it is left out, as `ok` does.
 */
export type OkBody<T> = [T] extends [NonNullable<T>] ? { success: true; data: T } : { success: true; data?: NonNullable<T> };

/** A response whose JSON body hono's client (`hc`) knows the type of. */
export type TypedJson<T, S extends ContentfulStatusCode = 200> = Response & TypedResponse<T, S, 'json'>;

/**
 * `ok`, with the body's type kept in the handler's return type, so `hc<typeof routes>` knows what
 * `data` is (the admin routes, from which the typed admin client is derived). Same bytes as `ok`.
 */
export function okJson<T, S extends ContentfulStatusCode = 200>(c: Context, data: T, status: S = 200 as S): TypedJson<OkBody<T>, S> {
  return ok(c, data, status) as TypedJson<OkBody<T>, S>;
}

export function errorBody(code: string, message: string, details?: unknown): ErrorEnvelope {
  const error: ErrorEnvelope['error'] = { code, message };
  if (details !== undefined && details !== null) error.details = details;
  return { success: false, error };
}

export function fail(c: Context, err: ApiError): Response {
  return c.json(errorBody(err.code, err.message, err.details), err.status as ContentfulStatusCode);
}
