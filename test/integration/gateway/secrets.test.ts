import { PassThrough } from 'node:stream';
import { Client } from 'sandbox0';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator.js';
import { createLogger } from '../../../src/log.js';
import { waitForEvent } from '../../helpers/emulator.js';
import { clientHello, httpsGet, sendAndCollect, viaIngress } from '../../helpers/sandbox-client.js';

/**
 * Secrets never leave in plaintext: after a session that uses, rotates and fails with proxy
 * credentials, the passwords appear in no log line, audit event, API response or error message.
 */
const secrets = ['S3cret-proxy-pass-1', 'S3cret-rotated-pass-2', 'S3cret-wrong-pass-3'];
let emu: Emulator;
const logLines: string[] = [];
const responses: string[] = [];

beforeAll(async () => {
  const sink = new PassThrough();
  sink.on('data', (d: Buffer) => logLines.push(d.toString()));
  emu = await startEmulator({ token: 's0_local_' + 'cd'.repeat(24), logger: createLogger({ level: 'trace', destination: sink }), testProxy: { users: [{ username: 'proxy-user', password: secrets[0]! }, { username: 'rotated-user', password: secrets[1]! }] } });
});
afterAll(async () => {
  await emu.stop();
});

/** fetch that keeps every response body for the final check. */
const recordingFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  const text = await res.clone().text();
  responses.push(text);
  return res;
};

describe('secrets', () => {
  it('never appear in logs, events, API responses or errors', async () => {
    const c = new Client({ token: emu.token, baseUrl: emu.apiUrl, fetch: recordingFetch });
    const errors: string[] = [];
    await c.credentialSources.create({ name: 'corp', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'proxy-user', password: secrets[0]! } } });
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
    await c.credentialSources.update('corp', { name: 'corp', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'proxy-user', password: secrets[2]! } } });
    await sendAndCollect(await viaIngress(ingress, 'api.internal.example.com', 443), await clientHello('api.internal.example.com'));
    await waitForEvent(emu, (e) => e.attributes.error_step === 'proxy_auth');
    await c.credentialSources.update('corp', { name: 'corp', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'rotated-user', password: secrets[1]! } } });
    expect((await httpsGet(await viaIngress(ingress, 'api.internal.example.com', 443), 'api.internal.example.com')).status).toBe(200);

    // Error paths that carry the secret in the request.
    for (const bad of [
      { name: 'corp', resolverKind: 'static_headers', spec: { staticUsernamePassword: { username: 'u', password: secrets[0]! } } },
      { name: 'corp', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: ' ', password: secrets[0]! } } },
    ]) {
      await c.credentialSources.create(bad as never).catch((e: Error) => errors.push(e.message + JSON.stringify(e)));
      await c.credentialSources.update('corp', bad as never).catch((e: Error) => errors.push(e.message + JSON.stringify(e)));
    }
    const adminUsers = await fetch(`${emu.apiUrl}/_emulator/proxy/users`, { headers: { authorization: `Bearer ${emu.token}` } });
    responses.push(await adminUsers.text());
    const flows = await fetch(`${emu.apiUrl}/_emulator/flows?limit=1000`, { headers: { authorization: `Bearer ${emu.token}` } });
    responses.push(await flows.text());
    const events = await c.listSandboxObservabilityEvents(sandbox.id, { limit: 1000 });
    expect(events.events!.length).toBeGreaterThan(4);

    const haystacks: [string, string[]][] = [
      ['log lines', logLines],
      ['audit events', emu.flows().map((e) => JSON.stringify(e))],
      ['API responses', responses],
      ['error messages', errors],
      ['proxy connection log', emu.proxy!.connections.list().map((e) => JSON.stringify(e))],
    ];
    expect(logLines.length).toBeGreaterThan(5);
    expect(responses.length).toBeGreaterThan(5);
    expect(errors.length).toBe(4);
    for (const [what, texts] of haystacks) {
      for (const secret of secrets) {
        const leak = texts.find((t) => t.includes(secret));
        expect(leak, `${what} contain a password`).toBeUndefined();
      }
    }
  });
});
