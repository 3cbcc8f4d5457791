import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Client } from 'sandbox0';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator.js';
import { api, waitForEvent } from '../../helpers/emulator.js';
import { docsPolicy } from '../../helpers/docs-policy.js';
import { until } from '../../helpers/socks-raw.js';
import { ourEtcNetns, ourHostLinks, ourNamespaces, transparentUnavailable } from '../../helpers/netns.js';

/**
 * Transparent mode: a policy the API accepts but ctld's compiler rejects leaves the previous compiled
 * policy enforced on unmodified programs (ctld policy/store.go keeps the old entry), and a policy
 * change closes the flows the old one admitted (newer upstream proxy/active_flows.go).
 */
const skip = transparentUnavailable();

describe.skipIf(skip)('transparent sandboxes: policy lifecycle', () => {
  let emu: Emulator;
  let sdk: Client;
  beforeAll(async () => {
    emu = await startEmulator({ token: 's0_local_' + '1e'.repeat(24), interception: 'transparent' });
    sdk = new Client({ token: emu.token, baseUrl: emu.apiUrl });
  });
  afterAll(async () => {
    await emu?.stop();
    expect(ourNamespaces()).toEqual([]);
    expect(ourHostLinks()).toEqual([]);
    expect(ourEtcNetns()).toEqual([]);
  });

  it('keeps the block-all docs policy enforced after an accepted-but-uncompilable PUT', async () => {
    const client = api(() => emu);
    await sdk.credentialSources.create({ name: 'corp-proxy-source', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'proxy-user', password: 'proxy-pass' } } });
    const sandbox = await sdk.sandboxes.claim('default');
    await sandbox.updateNetworkPolicy(docsPolicy('corp-proxy-source'));

    // Accepted by the API (the address is not blank); ctld's compiler rejects it (no port).
    const bad = await client.put(`/api/v1/sandboxes/${sandbox.id}/network`, { mode: 'allow-all', egress: { proxy: { type: 'socks5', address: 'proxy.example.com' } } });
    expect(bad.status).toBe(200);
    expect(bad.headers.get('warning')).toContain('the previous policy stays enforced');

    // The docs policy still routes the allowed flow through the authenticated proxy...
    const allowed = await sandbox.cmd('curl -sS --max-time 10 https://api.internal.example.com/still-proxied');
    expect(allowed.exitCode, allowed.stderr).toBe(0);
    expect(JSON.parse(allowed.stdout)).toMatchObject({ path: '/still-proxied' });
    // ...and still denies what it does not allow (block-all), although the stored policy is allow-all.
    const denied = await sandbox.cmd('curl -sS --max-time 10 http://api.internal.example.com:8080/');
    expect(denied.exitCode).not.toBe(0);
    const result = await waitForEvent(emu, (e) => e.sandbox_id === sandbox.id && e.phase === 'result' && e.attributes.dest_port === 8080);
    expect(result.attributes).toMatchObject({ action: 'deny', outcome: 'denied', src_ip: emu.sandbox(sandbox.id).view()!.address });
    expect(result.attributes.emulator_note).toContain('the latest network policy did not compile');
  });

  it('closes a long-lived flow of an unmodified program when a PUT removes its rule', async () => {
    const client = api(() => emu);
    const sandbox = await sdk.sandboxes.claim('default');
    await sdk.credentialSources.create({ name: 'src-2', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'proxy-user', password: 'proxy-pass' } } });
    await sandbox.updateNetworkPolicy(docsPolicy('src-2'));
    // A TLS connection that stays open: python keeps the socket after the handshake until the peer closes it.
    const script = [
      'import socket,ssl,sys,time',
      `ctx=ssl.create_default_context(cafile=sys.argv[1])`,
      "s=ctx.wrap_socket(socket.create_connection(('api.internal.example.com',443),timeout=20),server_hostname='api.internal.example.com')",
      "print('open',flush=True)",
      "open(sys.argv[2],'w').write('open')",
      't=time.time()',
      'try:',
      '  d=s.recv(1)',
      'except Exception as e:',
      '  d=repr(e).encode()',
      "print('closed',round(time.time()-t),d,flush=True)",
    ].join('\n');
    const { fixtureCaCertPath } = await import('../../../src/test-proxy/customer-services.js');
    const markerDir = mkdtempSync(join(tmpdir(), 'see-lifecycle-'));
    // Sandbox commands run as an unprivileged user (uid 65534): the marker's directory must let it write.
    chmodSync(markerDir, 0o1777);
    const marker = join(markerDir, 'open');
    const run = sandbox.cmd(`python3 -c "${script.replaceAll('"', '\\"')}" ${fixtureCaCertPath} ${marker}`);
    const attempt = await waitForEvent(emu, (e) => e.sandbox_id === sandbox.id && e.phase === 'attempt' && e.attributes.dest_port === 443, 20_000);
    // The handshake is done (the program wrote its marker): the flow is established and idle.
    await until(() => (existsSync(marker) ? true : undefined), 20_000);
    rmSync(dirname(marker), { recursive: true, force: true });
    const put = await client.put(`/api/v1/sandboxes/${sandbox.id}/network`, { mode: 'block-all' });
    expect(put.status).toBe(200);
    const r = await run;
    expect(r.stdout, r.stderr).toMatch(/^open\nclosed \d+ /);
    const result = await waitForEvent(emu, (e) => e.phase === 'result' && e.attributes.flow_id === attempt.attributes.flow_id);
    expect(result.attributes).toMatchObject({ action: 'use-adapter', outcome: 'completed' });
    expect(result.attributes.emulator_note).toContain('network policy changed after this flow was admitted');
  });
});
