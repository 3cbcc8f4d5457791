import { afterAll, beforeAll } from 'vitest';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator.js';
import type { NetworkAuditEvent } from '../../src/gateway/audit.js';
import { emulatorInternals } from '../../src/internals.js';

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

/**
 * Resolves with the first audit event (already stored or yet to come) matching `predicate`; flows end
 * asynchronously after the client sees the close, so tests wait for the event rather than sleep.
 */
export function waitForEvent(emulator: Emulator, predicate: (e: NetworkAuditEvent) => boolean, timeoutMs = 10_000): Promise<NetworkAuditEvent> {
  const existing = emulator.flows().find(predicate);
  if (existing) return Promise.resolve(existing);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`no matching audit event within ${timeoutMs} ms; events: ${JSON.stringify(emulator.flows().map((e) => [e.sandbox_id, e.phase, e.attributes]))}`));
    }, timeoutMs);
    const unsubscribe = emulatorInternals(emulator).audit.subscribe((event) => {
      if (!predicate(event)) return;
      clearTimeout(timer);
      unsubscribe();
      resolve(event);
    });
  });
}
