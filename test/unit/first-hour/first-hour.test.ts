import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { displayToken, resolveApiTarget } from '../../../src/cli/api-target.js';
import { UsageError } from '../../../src/cli/args.js';
import { resolveToken } from '../../../src/config.js';
import { discoveryValue, readDiscovery } from '../../../src/discovery.js';
import { assertPortFree, PortInUseError } from '../../../src/net/port-check.js';
import { nativeBindingError } from '../../../src/store/native-binding.js';

const local = 's0_local_' + 'ab'.repeat(24);
const prod = 's0_us-east-1_' + 'cd'.repeat(24);

describe('resolveApiTarget (every CLI command)', () => {
  const notes: string[] = [];
  const note = (l: string) => notes.push(l);
  it('prefers --api-url, then SANDBOX0_BASE_URL, then SEE_EMULATOR, then 127.0.0.1:4780', () => {
    const see = discoveryValue({ apiUrl: 'http://127.0.0.1:5000', token: local });
    expect(resolveApiTarget({}, {}, note)).toMatchObject({ apiUrl: 'http://127.0.0.1:4780', urlOrigin: 'default', token: '' });
    expect(resolveApiTarget({}, { SEE_EMULATOR: see }, note)).toMatchObject({ apiUrl: 'http://127.0.0.1:5000', urlOrigin: 'SEE_EMULATOR', token: local });
    expect(resolveApiTarget({}, { SEE_EMULATOR: see, SANDBOX0_BASE_URL: 'http://localhost:6000/' }, note)).toMatchObject({ apiUrl: 'http://localhost:6000', token: '' });
    expect(resolveApiTarget({ apiUrl: 'http://[::1]:7000' }, { SANDBOX0_BASE_URL: 'http://localhost:6000' }, note)).toMatchObject({ apiUrl: 'http://[::1]:7000', urlOrigin: '--api-url' });
    // SANDBOX0_TOKEN beats the discovered token; --token beats both.
    expect(resolveApiTarget({}, { SEE_EMULATOR: see, SANDBOX0_TOKEN: prod }, note).token).toBe(prod);
    expect(resolveApiTarget({ token: 't' }, { SEE_EMULATOR: see, SANDBOX0_TOKEN: prod }, note).token).toBe('t');
    expect(notes).toEqual([]);
  });
  it('refuses a URL that is not on this machine without allowRemote, and notes it with', () => {
    expect(() => resolveApiTarget({}, { SANDBOX0_BASE_URL: 'https://api.sandbox0.ai' }, note)).toThrow(UsageError);
    expect(() => resolveApiTarget({ apiUrl: 'http://10.0.0.1:4780' }, {}, note)).toThrow(/--api-url is http:\/\/10\.0\.0\.1:4780, which is not on this machine/);
    expect(() => resolveApiTarget({ apiUrl: 'not a url' }, {}, note)).toThrow(/invalid API URL/);
    expect(resolveApiTarget({ allowRemote: true }, { SANDBOX0_BASE_URL: 'https://api.sandbox0.ai' }, note)).toMatchObject({ remote: true });
    expect(notes).toEqual(['note: talking to https://api.sandbox0.ai (SANDBOX0_BASE_URL), not to a local emulator (--allow-remote)']);
  });
  it('masks tokens that did not come from the emulator', () => {
    expect(displayToken(local, { fromEmulator: true })).toBe(local);
    expect(displayToken(prod, { fromEmulator: false })).toBe('s0_us-ea… (masked)');
    expect(displayToken('short', { fromEmulator: false })).toBe('s… (masked)');
  });
});

describe('emulator token', () => {
  it('never adopts SANDBOX0_TOKEN: --token, SEE_TOKEN, else generated', () => {
    expect(resolveToken({ env: { SANDBOX0_TOKEN: prod } })).toMatch(/^s0_local_[0-9a-f]{48}$/);
    expect(resolveToken({ env: { SANDBOX0_TOKEN: prod, SEE_TOKEN: local } })).toBe(local);
    expect(resolveToken({ token: 'given', env: { SEE_TOKEN: local } })).toBe('given');
  });
});

describe('SEE_EMULATOR', () => {
  it('round-trips and rejects what run does not write', () => {
    expect(readDiscovery({ SEE_EMULATOR: discoveryValue({ apiUrl: 'http://127.0.0.1:1/', token: 't', readyFile: '/r' }) })).toEqual({ apiUrl: 'http://127.0.0.1:1', token: 't', readyFile: '/r' });
    expect(readDiscovery({})).toBeUndefined();
    expect(() => readDiscovery({ SEE_EMULATOR: '{' })).toThrow(/not JSON/);
    expect(() => readDiscovery({ SEE_EMULATOR: '{"apiUrl":"ftp://x","token":"t"}' })).toThrow(/must hold/);
  });
});

describe('port check', () => {
  it('passes for a free port and port 0, fails with PortInUseError (suggesting --port 0) for a taken one', async () => {
    await assertPortFree('127.0.0.1', 0);
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const err = await assertPortFree('127.0.0.1', port).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PortInUseError);
      expect((err as PortInUseError).code).toBe('port_in_use');
      expect((err as Error).message).toBe(`port ${port} on 127.0.0.1 is already in use (another emulator?): stop it, or pick a free port with --port 0`);
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
    await assertPortFree('127.0.0.1', port);
  });
});

describe('native binding hint', () => {
  it('names npm rebuild for a missing or foreign-ABI better-sqlite3 binding, and leaves other errors alone', () => {
    const missing = nativeBindingError(new Error('Could not locate the bindings file. Tried:\n → /x/build/better_sqlite3.node'));
    expect(missing?.code).toBe('native_binding_missing');
    expect(missing?.message).toContain('`npm rebuild better-sqlite3`');
    expect(missing?.message).toContain('--ignore-scripts');
    const abi = nativeBindingError(Object.assign(new Error('was compiled against a different Node.js version using NODE_MODULE_VERSION 127'), { code: 'ERR_DLOPEN_FAILED' }));
    expect(abi?.message).toContain('npm rebuild better-sqlite3');
    expect(nativeBindingError(new Error('SQLITE_CANTOPEN'))).toBeUndefined();
  });
});
