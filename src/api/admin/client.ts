import { hc, type ApplyGlobalResponse, type ClientResponse } from 'hono/client';
import type { ApiErrorCode, apiStatus } from '../error-status.js';
import type { ErrorEnvelope } from '../envelope.js';
import type { AdminApp } from './admin-app.js';

/** Any admin route may answer with the error envelope, at a status from the API's error table. */
type AdminErrorResponses = { [S in (typeof apiStatus)[ApiErrorCode]]: { json: ErrorEnvelope } };

/** The admin API as the client sees it: the routes' own types, plus the error envelope. */
export type AdminApi = ApplyGlobalResponse<AdminApp, AdminErrorResponses>;

/**
 * A hono RPC client (`hc`) of the admin API, rooted at `/_emulator`: paths, params, query and JSON
 * bodies, and each response's body, are typed from the routes, e.g.
 * `await admin.sandboxes[':id'].evaluate.$post({ param: { id }, json: { host, port: 443 } })`.
 */
export type AdminClient = ReturnType<typeof hc<AdminApi>>;

export interface AdminClientOptions {
  /** Replaces the global fetch (e.g. `app.request` for an in-process app). */
  fetch?: typeof fetch;
  /** Sent with every request, besides the bearer token. */
  headers?: Record<string, string>;
}

/** A typed client of the emulator admin API at `apiUrl` (the emulator's base URL), using `token`. */
export function adminClient(apiUrl: string, token: string, { fetch, headers = {} }: AdminClientOptions = {}): AdminClient {
  return hc<AdminApi>(`${apiUrl.replace(/\/+$/, '')}/_emulator`, {
    headers: { ...headers, authorization: `Bearer ${token}` },
    ...(fetch ? { fetch } : {}),
  });
}

/** An admin call answered with the error envelope (`{success:false,error:{code,message,details?}}`). */
export class AdminApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;

  constructor(status: number, error: ErrorEnvelope['error']) {
    super(`${status} ${error.code}: ${error.message}`);
    this.name = 'AdminApiError';
    this.status = status;
    this.code = error.code;
    this.details = error.details;
  }
}

/** The `data` of the success envelopes a typed response can carry (absent `data` reads as undefined). */
export type AdminData<R> = R extends ClientResponse<infer O, number, 'json'> ? (O extends { success: true } ? O['data' & keyof O] : never) : never;

/**
 * Awaits an admin call and returns the `data` of its success envelope, typed from the route; an error
 * envelope becomes an `AdminApiError` (code and message as the API sent them). Not for streams
 * (`flows` with `follow`): read those from the response's body.
 */
export async function adminData<R extends ClientResponse<unknown, number, string>>(call: R | Promise<R>): Promise<AdminData<R>> {
  const response = await call;
  const text = await response.text();
  let body: { success?: unknown; data?: unknown; error?: ErrorEnvelope['error'] };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new AdminApiError(response.status, { code: 'invalid_response', message: `not a JSON envelope: ${text.slice(0, 200)}` });
  }
  if (body.success === true) return body.data as AdminData<R>;
  throw new AdminApiError(response.status, body.error ?? { code: 'invalid_response', message: `not an envelope: ${text.slice(0, 200)}` });
}
