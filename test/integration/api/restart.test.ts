import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator.js';
import { api } from '../../helpers/emulator.js';
import { emulatorInternals } from '../../../src/internals.js';

/** State in a data dir survives a restart; secrets are sealed at rest; readyz follows the database. */
const dirs: string[] = [];
const running: Emulator[] = [];
afterEach(async () => {
  for (const e of running.splice(0)) await e.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function start(dataDir: string, token?: string) {
  const e = await startEmulator({ ephemeral: false, dataDir, port: 0, token, env: {} });
  running.push(e);
  return e;
}

describe('durable state', () => {
  it('reads back after a restart what was written before it, with the same generated token', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'see-restart-'));
    dirs.push(dataDir);
    const first = await start(dataDir);
    const c1 = api(() => first);
    await c1.post('/api/v1/credential-sources', { name: 'corp', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'proxy-user-xyz', password: 'very-secret-password-123' } } });
    const id = (await c1.post('/api/v1/sandboxes', { template: 'default' })).json.data.sandbox_id;
    const policy = {
      mode: 'block-all',
      egress: { trafficRules: [{ name: 'r', action: 'allow', domains: ['api.internal.example.com'] }], proxy: { type: 'socks5', address: 'proxy.example.com:1080', credentialRef: 'corp-proxy' } },
      credentialBindings: [{ ref: 'corp-proxy', sourceRef: 'corp', projection: { type: 'username_password', usernamePassword: {} } }],
    };
    const put = await c1.put(`/api/v1/sandboxes/${id}/network`, policy);
    expect(put.status).toBe(200);
    const token = first.token;
    expect(token).toMatch(/^s0_local_[0-9a-f]{48}$/);
    await first.stop();
    running.length = 0;

    const second = await start(dataDir);
    expect(second.token).toBe(token);
    const c2 = api(() => second);
    expect((await c2.get(`/api/v1/sandboxes/${id}/network`)).json.data).toEqual(put.json.data);
    expect((await c2.get('/api/v1/credential-sources/corp')).json.data.currentVersion).toBe(1);
    expect(emulatorInternals(second).store.credentialSources.spec('team-local', 'corp', 1)?.staticUsernamePassword?.password).toBe('very-secret-password-123');
    await second.stop();
    running.length = 0;

    // No file in the data dir holds a secret in plaintext; the key file and token are private.
    for (const file of readdirSync(dataDir)) {
      const bytes = readFileSync(join(dataDir, file));
      expect(bytes.includes('very-secret-password-123'), file).toBe(false);
      expect(bytes.includes('proxy-user-xyz'), file).toBe(false);
    }
    expect(statSync(join(dataDir, 'secrets.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, 'token')).mode & 0o777).toBe(0o600);
  });

  it('prefers --token, then SEE_TOKEN, over the kept token, and never adopts SANDBOX0_TOKEN', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'see-token-'));
    dirs.push(dataDir);
    const e = await startEmulator({ ephemeral: false, dataDir, port: 0, env: { SEE_TOKEN: 'from-env', SANDBOX0_TOKEN: 'platform-key' } });
    running.push(e);
    expect(e.token).toBe('from-env');
    await e.stop(); // one emulator per data dir
    const f = await startEmulator({ ephemeral: false, dataDir, port: 0, token: 'from-flag', env: { SEE_TOKEN: 'from-env' } });
    running.push(f);
    expect(f.token).toBe('from-flag');
    expect((await api(() => f, 'from-flag').get('/api/v1/sandboxes')).status).toBe(200);
    expect((await api(() => f, 'from-env').get('/api/v1/sandboxes')).json.error.message).toBe('invalid token');
    await f.stop();
    const g = await startEmulator({ ephemeral: false, dataDir, port: 0, env: { SANDBOX0_TOKEN: 'platform-key' } });
    running.push(g);
    expect(g.token).toMatch(/^s0_local_[0-9a-f]{48}$/);
  });

  it('reports 503 on /readyz when the database is unavailable', async () => {
    const e = await startEmulator({ ephemeral: true, port: 0 });
    running.push(e);
    const c = api(() => e);
    expect((await c.get('/readyz')).json.data.status).toBe('ready');
    emulatorInternals(e).store.db.close();
    const res = await c.get('/readyz');
    expect(res.status).toBe(503);
    expect(res.json).toEqual({ success: false, error: { code: 'unavailable', message: 'database unavailable', details: { status: 'not ready' } } });
    expect((await c.get('/_emulator/health')).json.data.components.store).toBe('down');
  });

  it('resets to a clean state and keeps the token', async () => {
    const e = await startEmulator({ ephemeral: true, port: 0 });
    running.push(e);
    const c = api(() => e);
    await c.post('/api/v1/sandboxes', { template: 'default' });
    await c.post('/api/v1/credential-sources', { name: 'x', resolverKind: 'static_headers', spec: { staticHeaders: { values: { a: 'b' } } } });
    expect((await api(() => e, 'wrong').post('/_emulator/reset')).status).toBe(401);
    expect((await c.post('/_emulator/reset')).status).toBe(200);
    expect((await c.get('/api/v1/sandboxes')).json.data.count).toBe(0);
    expect((await c.get('/api/v1/credential-sources')).json.data).toEqual([]);
    const info = (await c.get('/_emulator/info')).json.data;
    expect(info.token).toBe(e.token);
    expect(info.ports.api).toBe(e.port);
    expect((await fetch(e.apiUrl + '/_emulator/health')).status).toBe(200);
    expect((await fetch(e.apiUrl + '/_emulator/info')).status).toBe(401);
  });
});
