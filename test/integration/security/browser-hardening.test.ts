import http from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../../src/emulator.js';
import { useEmulator } from '../../helpers/emulator.js';
import { repoRoot } from '../../helpers/bin.js';

/** A raw request with any Host header (fetch would not let a test set it). */
function request(port: number, path: string, headers: Record<string, string>, method = 'GET'): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers, setHost: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('browser-facing hardening of the local API (finding 9)', () => {
  const emulator = useEmulator();
  const auth = () => ({ authorization: `Bearer ${emulator.current.token}` });

  it.each(['evil.example', 'evil.example:4780', 'attacker.example.com.', '127.0.0.1.nip.io', '[::2]', '10.1.2.3'])(
    'rejects a Host header naming an address it does not listen on (%s) with 403 in the API envelope, even with the token',
    async (host) => {
      for (const path of ['/healthz', '/_emulator/health', '/api/v1/sandboxes', '/_emulator/info']) {
        const res = await request(emulator.current.port, path, { host, ...auth() });
        expect(res.status, path).toBe(403);
        const body = JSON.parse(res.body);
        expect(body).toMatchObject({ success: false, error: { code: 'forbidden' } });
        expect(body.error.message).toContain('DNS rebinding');
        expect(res.body).not.toContain(emulator.current.token);
      }
    },
  );

  it.each(['localhost', 'LOCALHOST:1234', '127.0.0.1', '[::1]', '[::1]:9'])('answers Host %s', async (name) => {
    const port = emulator.current.port;
    const host = /:\d+$/.test(name) && !name.endsWith(']') ? name : `${name}:${port}`;
    expect((await request(port, '/api/v1/sandboxes', { host, ...auth() })).status).toBe(200);
  });

  it('keeps CORS closed: no Access-Control-Allow-Origin on answers or preflights', async () => {
    const port = emulator.current.port;
    const origin = 'http://evil.example';
    const answers = [
      await request(port, '/api/v1/sandboxes', { host: `127.0.0.1:${port}`, origin, ...auth() }),
      await request(port, '/healthz', { host: `127.0.0.1:${port}`, origin }),
      await request(port, '/api/v1/sandboxes', { host: `127.0.0.1:${port}`, origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' }, 'OPTIONS'),
    ];
    for (const res of answers) {
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      expect(res.headers['access-control-allow-credentials']).toBeUndefined();
      expect(res.headers['access-control-allow-headers']).toBeUndefined();
    }
  });

  it('refuses to listen beyond loopback without a token of the user\'s own, or with the one docker-compose.yml used to ship', async () => {
    await expect(startEmulator({ host: '0.0.0.0', port: 0, env: {} })).rejects.toThrow(/--host 0\.0\.0\.0 makes the API reachable beyond this machine: give it a token of your own/);
    await expect(startEmulator({ host: '0.0.0.0', port: 0, token: 's0_local_compose_dev_token', env: {} })).rejects.toThrow(/published one/);
    await expect(startEmulator({ host: '0.0.0.0', port: 0, env: { SEE_TOKEN: 's0_local_compose_dev_token' } })).rejects.toThrow(/published one/);
    const own = await startEmulator({ host: '0.0.0.0', port: 0, token: `s0_local_${'5e'.repeat(24)}`, env: {} });
    try {
      // Listening on every address: the machine's own addresses are names it answers; others are not.
      expect((await request(own.port, '/healthz', { host: `127.0.0.1:${own.port}` })).status).toBe(200);
      expect((await request(own.port, '/healthz', { host: 'evil.example' })).status).toBe(403);
    } finally {
      await own.stop();
    }
    // The compose file no longer ships a token: the user must set one.
    const compose = parse(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8')) as { services: { emulator: { environment: Record<string, string> } } };
    expect(compose.services.emulator.environment.SEE_TOKEN).toMatch(/^\$\{SEE_TOKEN:\?/);
  });

  it('answers names the operator allows', async () => {
    const e = await startEmulator({ port: 0, token: 't', allowedHosts: ['emulator.internal'] });
    try {
      expect((await request(e.port, '/healthz', { host: 'emulator.internal:80' })).status).toBe(200);
      expect((await request(e.port, '/healthz', { host: 'other.internal' })).status).toBe(403);
    } finally {
      await e.stop();
    }
  });
});
