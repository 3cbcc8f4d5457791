import { EmulatorError } from '../errors.js';

/**
 * The API's one table of errors: each wire code (upstream Sandbox0's, pkg/gateway/spec/response.go, and
 * procd's for contexts) with its HTTP status, and the code of every domain error the API answers with
 * the wire code it is answered with. An error that is in neither is a bug: a 500 `internal error`.
 */
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

/** Domain error codes (thrown as `EmulatorError` below the API) → the wire code the API answers with. */
const answeredAs: Readonly<Record<string, ApiErrorCode>> = {
  // control-plane/
  sandbox_not_found: 'not_found',
  sandbox_of_another_team: 'forbidden',
  template_required: 'bad_request',
  template_not_found: 'not_found',
  invalid_list_query: 'bad_request',
  invalid_network_policy: 'bad_request',
  // Upstream answers a binding to a missing source with a 500 (ctld fails to stage it).
  credential_source_missing: 'internal_error',
  credential_source_not_found: 'not_found',
  invalid_credential_source: 'bad_request',
  credential_source_exists: 'conflict',
  credential_source_in_use: 'conflict',
  // sandbox/contexts.ts (procd's codes)
  invalid_context_request: 'invalid_request',
  context_not_found: 'context_not_found',
  context_start_failed: 'create_failed',
  // test-proxy/
  invalid_fault: 'bad_request',
  fault_exists: 'conflict',
};

/** An error in the API's own words: what the API layer throws for a request it refuses. */
export class ApiError extends EmulatorError {
  declare readonly code: ApiErrorCode;

  constructor(code: ApiErrorCode, message: string, details?: unknown) {
    super(code, message, details === undefined ? undefined : { details });
    this.name = 'ApiError';
  }

  get status(): number {
    return apiStatus[this.code];
  }
}

/** `err` as the API answers it, or undefined when it is not an error the API answers (a 500). */
export function asApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (!(err instanceof EmulatorError)) return undefined;
  const code = Object.hasOwn(answeredAs, err.code) ? answeredAs[err.code] : undefined;
  return code ? new ApiError(code, err.message, err.details) : undefined;
}
