/**
 * Errors are values with a stable code. Components throw `EmulatorError` with codes of their own
 * (`sandbox_not_found`, `invalid_fault`, ...); the API answers one by its code, with the wire code and
 * HTTP status decided in one table at the edge (api/error-status.ts). Any other error is a bug there.
 */
export class EmulatorError extends Error {
  readonly code: string;
  /** Extra facts an API client gets as `error.details` of the error envelope. */
  readonly details: unknown;

  constructor(code: string, message: string, options?: { cause?: unknown; details?: unknown }) {
    super(message, options);
    this.name = 'EmulatorError';
    this.code = code;
    this.details = options?.details;
  }
}
