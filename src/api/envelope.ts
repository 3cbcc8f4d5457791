import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { ApiError } from '../errors.js';

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

export function errorBody(code: string, message: string, details?: unknown): ErrorEnvelope {
  const error: ErrorEnvelope['error'] = { code, message };
  if (details !== undefined && details !== null) error.details = details;
  return { success: false, error };
}

export function fail(c: Context, err: ApiError): Response {
  return c.json(errorBody(err.code, err.message, err.details), err.status as ContentfulStatusCode);
}
