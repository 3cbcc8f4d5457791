import { STATUS_CODES } from 'node:http';

/**
 * A structured API error, printed as the official Go SDK prints it (`sdk-go/errors.go` APIError):
 * `sandbox0 API error (<status>): <code> - <message>`, or without ` <code> -` when there is no code.
 */
export class S0ApiError extends Error {
  override readonly name = 'S0ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    readonly apiMessage: string,
  ) {
    super(code ? `sandbox0 API error (${status}): ${code} - ${apiMessage}` : `sandbox0 API error (${status}): ${apiMessage}`);
  }
}

/** A transport failure, worded like Go's `*url.Error` (`Get "http://…": dial tcp …`). */
export class S0TransportError extends Error {
  override readonly name = 'S0TransportError';
}

export interface S0ClientOptions {
  apiUrl: string;
  token: string;
  fetchImpl?: typeof fetch;
  timeoutMs?: number;
}

const maxErrorBodyBytes = 64 * 1024;

/** Builds the API error from a non-2xx response the way `sdk-go/response_error.go` does. */
export function apiErrorFromResponse(status: number, contentType: string, body: string): S0ApiError {
  let text = body;
  let truncated = false;
  if (Buffer.byteLength(text) > maxErrorBodyBytes) {
    text = Buffer.from(text).subarray(0, maxErrorBodyBytes).toString();
    truncated = true;
  }
  const ct = contentType.toLowerCase();
  if ((ct.includes('application/json') || ct.includes('application/problem+json')) && text.length > 0) {
    try {
      const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
      const message = parsed?.error?.message;
      if (typeof message === 'string' && message !== '') {
        return new S0ApiError(status, typeof parsed.error?.code === 'string' ? parsed.error.code : '', message);
      }
      return new S0ApiError(status, '', JSON.stringify(parsed) + (truncated ? ' (truncated)' : ''));
    } catch {
      // not JSON after all: fall through to the plain-text form
    }
  }
  let message = text.trim();
  if (message === '') message = STATUS_CODES[status] ?? '';
  if (truncated && message !== '') message += ' (truncated)';
  return new S0ApiError(status, '', message);
}

function goMethod(method: string): string {
  return method[0]! + method.slice(1).toLowerCase();
}

function transportError(method: string, url: string, err: unknown): S0TransportError {
  const cause = (err as { cause?: { code?: string; address?: string; port?: number; message?: string } }).cause;
  let detail = cause?.message ?? (err as Error).message;
  if (cause?.code === 'ECONNREFUSED' && cause.address) {
    const host = cause.address.includes(':') ? `[${cause.address}]` : cause.address;
    detail = `dial tcp ${host}:${cause.port}: connect: connection refused`;
  } else if ((err as Error).name === 'TimeoutError') {
    detail = 'context deadline exceeded';
  }
  return new S0TransportError(`${goMethod(method)} "${url}": ${detail}`);
}

/** The few Sandbox0 API calls the `s0` subset needs, over fetch, unwrapping `{success,data}`. */
export function createS0Client({ apiUrl, token, fetchImpl = fetch, timeoutMs = 60_000 }: S0ClientOptions) {
  const base = apiUrl.replace(/\/+$/, '');
  const call = async <T>(method: string, path: string, body?: unknown, query?: Record<string, string>): Promise<T> => {
    const qs = query && Object.keys(query).length ? `?${new URLSearchParams(query).toString()}` : '';
    const url = `${base}${path}${qs}`;
    let res: Response;
    try {
      res = await fetchImpl(url, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw transportError(method, url, err);
    }
    const text = await res.text();
    if (res.status >= 400) throw apiErrorFromResponse(res.status, res.headers.get('content-type') ?? '', text);
    try {
      return (JSON.parse(text) as { data?: T }).data as T;
    } catch {
      throw new S0ApiError(res.status, 'unexpected_response', 'unexpected response');
    }
  };
  const seg = encodeURIComponent;
  return {
    claimSandbox: (req: unknown) => call<Record<string, unknown>>('POST', '/api/v1/sandboxes', req),
    getSandbox: (id: string) => call<Record<string, unknown>>('GET', `/api/v1/sandboxes/${seg(id)}`),
    listSandboxes: (query: Record<string, string>) => call<Record<string, unknown>>('GET', '/api/v1/sandboxes', undefined, query),
    deleteSandbox: (id: string) => call<Record<string, unknown>>('DELETE', `/api/v1/sandboxes/${seg(id)}`),
    getNetworkPolicy: (id: string) => call<Record<string, unknown>>('GET', `/api/v1/sandboxes/${seg(id)}/network`),
    updateNetworkPolicy: (id: string, policy: unknown) => call<Record<string, unknown>>('PUT', `/api/v1/sandboxes/${seg(id)}/network`, policy),
    listCredentialSources: () => call<Record<string, unknown>[]>('GET', '/api/v1/credential-sources'),
    getCredentialSource: (name: string) => call<Record<string, unknown>>('GET', `/api/v1/credential-sources/${seg(name)}`),
    createCredentialSource: (req: unknown) => call<Record<string, unknown>>('POST', '/api/v1/credential-sources', req),
    updateCredentialSource: (name: string, req: unknown) => call<Record<string, unknown>>('PUT', `/api/v1/credential-sources/${seg(name)}`, req),
    /** `s0 sandbox exec`'s call: a cmd context (procd), waiting for the command when asked to. */
    createContext: (id: string, req: unknown) => call<Record<string, unknown>>('POST', `/api/v1/sandboxes/${seg(id)}/contexts`, req),
    /** The emulator's admin API: audit events of every sandbox, one page. */
    listFlows: (query: Record<string, string>) => call<{ events: Record<string, unknown>[]; next_cursor?: string }>('GET', '/_emulator/flows', undefined, query),
    /** The emulator's admin API: a dry run of the gateway's decision. */
    evaluateFlow: (id: string, req: unknown) => call<Record<string, unknown>>('POST', `/_emulator/sandboxes/${seg(id)}/evaluate`, req),
    deleteCredentialSource: (name: string) => call<Record<string, unknown> | undefined>('DELETE', `/api/v1/credential-sources/${seg(name)}`),
  };
}

export type S0Client = ReturnType<typeof createS0Client>;
