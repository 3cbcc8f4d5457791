import { afterAll, beforeAll } from 'vitest';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator.js';

/** Starts one in-memory emulator on port 0 for the file, stopped after it (even when a test fails). */
export function useEmulator(options: EmulatorOptions = {}): { readonly current: Emulator } {
  const holder: { current?: Emulator } = {};
  beforeAll(async () => {
    holder.current = await startEmulator({ ephemeral: true, port: 0, token: 's0_local_' + 'ab'.repeat(24), ...options });
  });
  afterAll(async () => {
    await holder.current?.stop();
  });
  return holder as { readonly current: Emulator };
}

/** A small JSON client over fetch: every call returns the status, headers and parsed body. */
export function api(emulator: () => Emulator, token?: string) {
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(emulator().apiUrl + path, {
      method,
      headers: {
        authorization: `Bearer ${token ?? emulator().token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, json, text };
  };
  return {
    get: (path: string) => call('GET', path),
    post: (path: string, body?: unknown) => call('POST', path, body),
    put: (path: string, body?: unknown) => call('PUT', path, body),
    delete: (path: string) => call('DELETE', path),
    call,
  };
}
