import { Hono } from 'hono';
import { SocksClient } from 'socks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { proxyAdminRoutes } from '../../../src/api/admin/proxy-routes.js';
import { fail } from '../../../src/api/envelope.js';
import { asApiError } from '../../../src/api/error-status.js';
import { createTestProxy, type TestProxy } from '../../../src/test-proxy/proxy.js';
import { startEchoServer, type Target } from '../../helpers/socks-targets.js';

describe('admin routes for the test proxy', () => {
  let proxy: TestProxy;
  let echo: Target;
  let app: Hono;

  beforeAll(async () => {
    echo = await startEchoServer();
    proxy = await createTestProxy({ customerDns: { 'echo.internal.example.com': `127.0.0.1:${echo.port}` } });
    // The app's onError, reproduced: an error the API answers (error-status.ts) → envelope.
    app = new Hono().route('/_emulator', proxyAdminRoutes({ proxy }));
    app.onError((err, c) => {
      const answered = asApiError(err);
      return answered ? fail(c, answered) : c.json({ success: false, error: { code: 'internal_error', message: 'x' } }, 500);
    });
  });
  beforeEach(() => proxy.reset());
  afterAll(async () => {
    await proxy?.stop();
    await echo?.stop();
  });

  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> => {
    const res = await app.request(`/_emulator${path}`, {
      method,
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
    });
    return { status: res.status, json: await res.json() };
  };
  const connect = async (user = 'proxy-user', password = 'proxy-pass'): Promise<void> => {
    const { socket } = await SocksClient.createConnection({
      proxy: { host: '127.0.0.1', port: proxy.port, type: 5, userId: user, password },
      command: 'connect',
      destination: { host: 'echo.internal.example.com', port: 7 },
      timeout: 5000,
    });
    socket.destroy();
  };

  it('users: GET lists usernames only; PUT replaces them and applies to new connections', async () => {
    expect(await call('GET', '/proxy/users')).toEqual({ status: 200, json: { success: true, data: { users: [{ username: 'proxy-user' }] } } });
    const put = await call('PUT', '/proxy/users', { users: [{ username: 'alice', password: 'alice-secret' }] });
    expect(put.status).toBe(200);
    expect(JSON.stringify(put.json)).not.toContain('alice-secret');
    await connect('alice', 'alice-secret');
    await expect(connect('proxy-user', 'proxy-pass')).rejects.toThrow(/Authentication failed/i);
    const bad = await call('PUT', '/proxy/users', { users: [{ username: 'bob', password: 'x'.repeat(256) }] });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('bad_request');
    expect(bad.json.error.message).toMatch(/body.users.0.password: password is longer than 255 bytes/);
    expect(bad.json.error.message).not.toContain('xxxx');
  });

  it('faults: POST adds (201), GET lists, DELETE removes; bad input is a 400, duplicates a 409, unknown a 404', async () => {
    const add = await call('POST', '/proxy/faults', { name: 'no-names', type: 'reject_domain_atyp' });
    expect(add.status).toBe(201);
    expect(add.json.data).toEqual({ name: 'no-names', type: 'reject_domain_atyp', toxicity: 1, attributes: {}, match: {} });
    await expect(connect()).rejects.toThrow(/AddressNotSupported/);
    expect((await call('GET', '/proxy/faults')).json.data.faults).toHaveLength(1);
    expect((await call('POST', '/proxy/faults', { name: 'no-names', type: 'auth_reject' })).status).toBe(409);
    const invalid = await call('POST', '/proxy/faults', { type: 'bandwidth', attributes: { rate: -1 } });
    expect(invalid.status).toBe(400);
    expect(invalid.json.error.message).toMatch(/attributes.rate: rate must be > 0/);
    expect((await call('POST', '/proxy/faults', 'not json')).status).toBe(400);
    expect((await call('DELETE', '/proxy/faults/no-names')).status).toBe(200);
    await connect();
    expect((await call('DELETE', '/proxy/faults/no-names')).status).toBe(404);
  });

  it('connections: GET filters, DELETE clears; passwords never appear', async () => {
    await connect();
    await expect(connect('proxy-user', 'wrong-pass')).rejects.toThrow();
    const all = await call('GET', '/proxy/connections');
    expect(all.json.data.connections.length).toBe(2);
    expect(JSON.stringify(all.json)).not.toMatch(/proxy-pass|wrong-pass/);
    const ok = await call('GET', '/proxy/connections?replyCode=0&atyp=domain');
    expect(ok.json.data.connections).toHaveLength(1);
    expect(ok.json.data.connections[0]).toMatchObject({ user: 'proxy-user', atyp: 'domain', host: 'echo.internal.example.com', port: 7, replyCode: 0 });
    expect((await call('GET', '/proxy/connections?limit=0')).status).toBe(400);
    expect((await call('DELETE', '/proxy/connections')).status).toBe(200);
    expect((await call('GET', '/proxy/connections')).json.data.connections).toEqual([]);
  });

  it('customer DNS: PUT replaces the view, GET returns it, bad records are a 400', async () => {
    const put = await call('PUT', '/dns/customer', { records: { 'echo2.internal.example.com:7': `127.0.0.1:${echo.port}` } });
    expect(put.json.data.records).toEqual({ 'echo2.internal.example.com:7': `127.0.0.1:${echo.port}` });
    await expect(connect()).rejects.toThrow(/HostUnreachable/);
    expect((await call('GET', '/dns/customer')).json.data.records).toEqual({ 'echo2.internal.example.com:7': `127.0.0.1:${echo.port}` });
    const bad = await call('PUT', '/dns/customer', { records: { 'x.example.com': 'not a host port' } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toContain('values are host:port');
  });
});
