/**
 * Errors are values with a stable code. The HTTP status of an API error code is decided in one table
 * (`apiStatus`), at the edge; internal components throw `EmulatorError` with their own codes.
 */

/** Upstream Sandbox0 API error codes (pkg/gateway/spec/response.go) and their HTTP status. */
export const apiStatus = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  request_timeout: 408,
  conflict: 409,
  gone: 410,
  payload_too_large: 413,
  template_not_ready: 409,
  quota_exceeded: 429,
  internal_error: 500,
  unavailable: 503,
  // procd (contexts) codes, used by the contexts API
  invalid_request: 400,
  context_not_found: 404,
  create_failed: 500,
} as const;

export type ApiErrorCode = keyof typeof apiStatus;

/** An error that is returned to an API client as `{success:false,error:{code,message,details?}}`. */
export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly status: number;
  readonly details: unknown;

  constructor(code: ApiErrorCode, message: string, details?: unknown, status?: number) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status ?? apiStatus[code];
    this.details = details;
  }
}

export const badRequest = (message: string): ApiError => new ApiError('bad_request', message);
export const notFound = (message: string): ApiError => new ApiError('not_found', message);
export const conflict = (message: string): ApiError => new ApiError('conflict', message);
export const internalError = (message: string): ApiError => new ApiError('internal_error', message);

/** Internal error with a stable code, for components that are not the HTTP API. */
export class EmulatorError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EmulatorError';
    this.code = code;
  }
}
