import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Client } from 'sandbox0';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator.js';
import { createLogger } from '../../../src/log.js';
import { databaseFile, keyFile } from '../../../src/store/db.js';
import { waitForEvent } from '../../helpers/emulator.js';
import { clientHello, httpsGet, sendAndCollect, viaIngress } from '../../helpers/sandbox-client.js';
import { findSecrets } from '../../helpers/secret-forms.js';

/**
 * Secrets never leave in plaintext: after the docs flow with distinctive passwords, a failing
 * password and two rotations, no password (as text, UTF-16, hex, base64 at any alignment or a byte
 * list) is in the database files on disk (-wal and -shm included; the key file aside), a log line
 * (trace level), an audit event, an API response (errors included) or an error message.
 */
const secrets = ['S3cret-proxy-pass-1-q7Zk', 'S3cret-rotated-pass-2-Wm4x', 'S3cret-wrong-pass-3-Lp9v', 'S3cret-header-value-4-Rt2c', 'S3cret-misplaced-5-Hd8n'];
const [proxyPass, rotatedPass, wrongPass, headerValue, misplaced] = secrets as [string, string, string, string, string];
let emu: Emulator;
let dataDir: string;
const logLines: string[] = [];
const responses: string[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'see-secrets-'));
  const sink = new PassThrough();
  sink.on('data', (d: Buffer) => logLines.push(d.toString()));
  emu = await startEmulator({
    ephemeral: false,
    dataDir,
    token: 's0_local_' + 'cd'.repeat(24),
    logger: createLogger({ level: 'trace', destination: sink }),
    testProxy: { users: [{ username: 'proxy-user', password: proxyPass }, { username: 'rotated-user', password: rotatedPass }] },
  });
});
afterAll(async () => {
  await emu.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** fetch that keeps every response body for the final check. */
const recordingFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  const text = await res.clone().text();
  responses.push(text);
  return res;
};

/** A raw request through the recording fetch (bodies the SDK would not send). */
const raw = (method: string, path: string, body?: string) =>
  recordingFetch(`${emu.apiUrl}${path}`, { method, headers: { authorization: `Bearer ${emu.token}`, 'content-type': 'application/json' }, body });

/** Every file of the data dir but the key, by name. */
const dataFiles = (): [string, Buffer][] =>
  readdirSync(dataDir)
    .filter((f) => f !== keyFile)
    .map((f) => [f, readFileSync(join(dataDir, f))]);

describe('secrets', () => {
  it('never appear in the database files, logs, events, API responses or errors', async () => {
    const c = new Client({ token: emu.token, baseUrl: emu.apiUrl, fetch: recordingFetch });
    const errors: string[] = [];
    await c.credentialSources.create({ name: 'corp', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'proxy-user', password: proxyPass } } });
    const sandbox = await c.sandboxes.claim('default');
    await sandbox.updateNetworkPolicy({
      mode: 'block-all',
      egress: {
        trafficRules: [{ name: 'r', action: 'allow', domains: ['api.internal.example.com'], ports: [{ port: 443, protocol: 'tcp' }] }],
        proxy: { type: 'socks5', address: 'proxy.example.com:1080', credentialRef: 'corp-proxy' },
      },
      credentialBindings: [{ ref: 'corp-proxy', sourceRef: 'corp', projection: { type: 'username_password', usernamePassword: {} } }],
    });
    const ingress = emu.sandbox(sandbox.id).view()!.ingress!.socks5;
    expect((await httpsGet(await viaIngress(ingress, 'api.internal.example.com', 443), 'api.internal.example.com')).status).toBe(200);

    // A failing password (the proxy rejects it), then a rotation to another valid user.
    await c.credentialSources.update('corp', { name: 'corp', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'proxy-user', password: wrongPass } } });
    await sendAndCollect(await viaIngress(ingress, 'api.internal.example.com', 443), await clientHello('api.internal.example.com'));
    await waitForEvent(emu, (e) => e.attributes.error_step === 'proxy_auth');
    await c.credentialSources.update('corp', { name: 'corp', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'rotated-user', password: rotatedPass } } });
    expect((await httpsGet(await viaIngress(ingress, 'api.internal.example.com', 443), 'api.internal.example.com')).status).toBe(200);
    // Another secret kind, read back through every read path.
    await c.credentialSources.create({ name: 'headers', resolverKind: 'static_headers', spec: { staticHeaders: { values: { 'x-api-key': headerValue } } } });
    await c.credentialSources.get('headers');
    await c.credentialSources.list();

    // Error paths that carry a secret in the request.
    for (const bad of [
      { name: 'corp', resolverKind: 'static_headers', spec: { staticUsernamePassword: { username: 'u', password: proxyPass } } },
      { name: 'corp', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: ' ', password: proxyPass } } },
    ]) {
      await c.credentialSources.create(bad as never).catch((e: Error) => errors.push(e.message + JSON.stringify(e)));
      await c.credentialSources.update('corp', bad as never).catch((e: Error) => errors.push(e.message + JSON.stringify(e)));
    }
    const truncated = await raw('POST', '/api/v1/credential-sources', `{"name":"t","resolverKind":"static_username_password","spec":{"staticUsernamePassword":{"username":"u","password":"${proxyPass}"`);
    expect(truncated.status).toBe(400);
    const wrongType = await raw('POST', '/api/v1/credential-sources', JSON.stringify({ name: 't', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: ['u'], password: proxyPass } } }));
    expect(wrongType.status).toBe(400);
    // A password where no secret belongs: the projection has no such field, so it is dropped, not kept.
    const put = await raw(
      'PUT',
      `/api/v1/sandboxes/${sandbox.id}/network`,
      JSON.stringify({ mode: 'allow-all', credentialBindings: [{ ref: 'corp-proxy', sourceRef: 'corp', projection: { type: 'username_password', usernamePassword: { password: misplaced } } }] }),
    );
    expect(put.status).toBe(200);
    await c.sandboxes.get(sandbox.id);
    await sandbox.getNetworkPolicy();

    for (const path of ['/_emulator/proxy/users', '/_emulator/flows?limit=1000', `/_emulator/sandboxes/${sandbox.id}`, '/_emulator/proxy/connections']) {
      expect((await raw('GET', path)).status).toBe(200);
    }
    const events = await c.listSandboxObservabilityEvents(sandbox.id, { limit: 1000 });
    expect(events.events!.length).toBeGreaterThan(4);
    // The info route names the test proxy's users without their passwords (those are in the ready
    // file, mode 0600): no response carries one.
    const info = (await (await fetch(`${emu.apiUrl}/_emulator/info`, { headers: { authorization: `Bearer ${emu.token}` } })).json()) as { data: { testProxy: { users: { username: string }[] } } };
    expect(info.data.testProxy.users).toEqual([{ username: 'proxy-user' }, { username: 'rotated-user' }]);
    responses.push(JSON.stringify(info));

    const auditEvents = emu.flows().map((e) => JSON.stringify(e));
    const connectionLog = emu.proxy!.connections.list().map((e) => JSON.stringify(e));
    // The database files while the emulator runs (the WAL holds the latest pages), then after it stopped.
    const running = dataFiles();
    expect(running.map(([f]) => f)).toEqual(expect.arrayContaining([databaseFile, `${databaseFile}-wal`, `${databaseFile}-shm`]));
    // A control: what is stored in the clear (ids, names) is there to be found.
    expect(Buffer.concat(running.map(([, b]) => b)).includes(sandbox.id)).toBe(true);
    await emu.stop();
    expect(existsSync(join(dataDir, databaseFile))).toBe(true);
    const stopped = dataFiles();
    expect(Buffer.concat(stopped.map(([, b]) => b)).includes('x-api-key')).toBe(false);
    expect(Buffer.concat(stopped.map(([, b]) => b)).includes(sandbox.id)).toBe(true);

    const haystacks: [string, (Buffer | string)[]][] = [
      ...running.map(([f, bytes]): [string, Buffer[]] => [`${f} (running)`, [bytes]]),
      ...stopped.map(([f, bytes]): [string, Buffer[]] => [`${f} (stopped)`, [bytes]]),
      ['log lines', logLines],
      ['audit events', auditEvents],
      ['API responses', responses],
      ['error messages', errors],
      ['proxy connection log', connectionLog],
    ];
    expect(logLines.length).toBeGreaterThan(5);
    expect(logLines.some((l) => l.includes('"level":10') || l.includes('"level":20'))).toBe(true);
    expect(responses.length).toBeGreaterThan(15);
    expect(errors.length).toBe(4);
    expect(auditEvents.length).toBeGreaterThan(4);
    for (const [what, texts] of haystacks) {
      const leaks = texts.flatMap((t) => findSecrets(t, secrets));
      expect(leaks, `${what} contain a secret`).toEqual([]);
    }
  });

  it('the search itself finds every form it looks for', () => {
    const secret = secrets[0]!;
    const encoded = [
      `x${secret}y`,
      Buffer.from(`ab${secret}`, 'utf16le'),
      Buffer.from(`{"password":"${secret}"}`).toString('base64'),
      Buffer.from(`:${secret}`).toString('base64url'),
      Buffer.from(secret).toString('hex'),
      JSON.stringify(Buffer.from(`..${secret}`)),
    ];
    for (const e of encoded) expect(findSecrets(e, [secret]), String(e)).not.toEqual([]);
    expect(findSecrets('nothing to see', [secret])).toEqual([]);
  });
});
