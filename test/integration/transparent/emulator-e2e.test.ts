import { Client } from 'sandbox0';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator.js';
import { fixturesDir } from '../../../src/paths.js';
import { waitForEvent } from '../../helpers/emulator.js';
import { docsPolicy } from '../../helpers/docs-policy.js';
import { ourEtcNetns, ourHostLinks, ourNamespaces, transparentBackends, transparentUnavailable } from '../../helpers/netns.js';

/**
 * Unmodified programs in transparent sandboxes, driven through the official SDK: curl, python, node,
 * nc, dig, a raw QUIC datagram — the same suite against the root and the rootless backend. Nothing
 * leaves the machine; nothing is left behind.
 */
const skip = transparentUnavailable();

describe.skipIf(skip).each(transparentBackends)('transparent sandboxes end to end (%s backend)', (backend) => {
  let emu: Emulator;
  let sdk: Client;
  beforeAll(async () => {
    emu = await startEmulator({ token: 't', interception: 'transparent', transparentBackend: backend });
    expect(emu.info().interception.backend).toBe(backend === 'root' ? 'root-netns' : 'rootless-userns');
    sdk = new Client({ token: emu.token, baseUrl: emu.apiUrl });
  });
  afterAll(async () => {
    const instance = emu ? (emu.info().interception.mode === 'transparent' ? undefined : undefined) : undefined;
    await emu?.stop();
    void instance;
    expect(ourNamespaces()).toEqual([]);
    expect(ourHostLinks()).toEqual([]);
    expect(ourEtcNetns()).toEqual([]);
  });
  beforeEach(async () => {
    await emu.reset();
  });

  async function docsSandbox() {
    await sdk.credentialSources.create({ name: 'corp-proxy-source', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'proxy-user', password: 'proxy-pass' } } });
    const sandbox = await sdk.sandboxes.claim('default');
    await sandbox.updateNetworkPolicy(docsPolicy('corp-proxy-source'));
    return sandbox;
  }

  it('curl in the sandbox reaches the internal API by name through the authenticated proxy', async () => {
    const sandbox = await docsSandbox();
    expect(emu.sandbox(sandbox.id).view()).toMatchObject({ interception: 'transparent', namespace: expect.stringMatching(/^see-/) });
    const r = await sandbox.cmd('curl -sS --max-time 10 https://api.internal.example.com/from-curl');
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ service: 'api.internal.example.com', path: '/from-curl' });
    expect(emu.proxy!.connections.list()[0]).toMatchObject({ atyp: 'domain', host: 'api.internal.example.com', port: 443, user: 'proxy-user' });
    const result = await waitForEvent(emu, (e) => e.sandbox_id === sandbox.id && e.phase === 'result');
    expect(result.attributes).toMatchObject({ action: 'use-adapter', outcome: 'completed', matched_rule: 'allow-private-api', src_ip: emu.sandbox(sandbox.id).view()!.address });
  });

  it('python and node, unmodified, go through the same path', async () => {
    const sandbox = await docsSandbox();
    const py = await sandbox.cmd(`python3 -c "import urllib.request,ssl; print(urllib.request.urlopen('https://api.internal.example.com/py', context=ssl.create_default_context(cafile='${join(fixturesDir, 'ca', 'ca.crt')}')).status)"`);
    expect(py.stdout.trim()).toBe('200');
    const node = await sandbox.cmd(`node -e "fetch('https://api.internal.example.com/node').then(r=>r.json()).then(j=>console.log(j.path))"`);
    expect(node.stdout.trim()).toBe('/node');
  });

  it('the documented pitfall: a customer-only name does not resolve, until a hosts entry makes the flow start', async () => {
    const sandbox = await docsSandbox();
    const nx = await sandbox.cmd('curl -sS --max-time 5 https://db.corp.example.com/');
    expect(nx.exitCode).toBe(6); // curl: could not resolve host
    expect(emu.proxy!.connections.list()).toEqual([]);
    emu.sandbox(sandbox.id).setHosts({ 'db.corp.example.com': ['198.18.0.20'] });
    const denied = await sandbox.cmd('curl -sS --max-time 5 https://db.corp.example.com/');
    expect(denied.exitCode).not.toBe(6);
    const e = await waitForEvent(emu, (x) => x.sandbox_id === sandbox.id && x.attributes.dest_ip === '198.18.0.20');
    expect(e.attributes).toMatchObject({ action: 'deny', reason: 'l4_denied', host: 'db.corp.example.com' });
  });

  it('denied TCP is closed and audited; QUIC and foreign DNS are rejected; dig asks the sandbox resolver', async () => {
    const sandbox = await docsSandbox();
    const nc = await sandbox.cmd(`node -e "const s=require('net').connect(5432,'198.18.0.66');s.on('data',()=>{});s.on('close',()=>console.log('closed'));s.on('error',e=>console.log(e.code))"`);
    expect(nc.stdout.trim()).toMatch(/closed|ECONNRESET/);
    expect((await waitForEvent(emu, (e) => e.sandbox_id === sandbox.id && e.attributes.dest_ip === '198.18.0.66')).attributes).toMatchObject({ action: 'deny' });
    // A raw nc (no proxy settings, no TLS): captured, denied, closed: it reads nothing back.
    const raw = await sandbox.cmd('nc -w 5 198.18.0.67 6379');
    expect(raw.stdout).toBe('');
    expect((await waitForEvent(emu, (e) => e.sandbox_id === sandbox.id && e.attributes.dest_ip === '198.18.0.67')).attributes).toMatchObject({ action: 'deny', dest_port: 6379, transport: 'tcp' });

    const vectors = JSON.parse(readFileSync(join(fixturesDir, 'handshakes', 'rfc-quic-initial-vectors.json'), 'utf8'));
    await sandbox.cmd(`node -e "const d=require('dgram').createSocket('udp4');d.send(Buffer.from('${vectors.v1.packet}','hex'),443,'198.18.0.77',()=>d.close())"`);
    const quic = await waitForEvent(emu, (e) => e.sandbox_id === sandbox.id && e.attributes.dest_ip === '198.18.0.77');
    expect(quic.attributes).toMatchObject({ transport: 'udp', action: 'deny', host: 'example.com' });
    // Where the policy would let the datagram out (allow-all), a QUIC Initial is still never proxied.
    const open = await sdk.sandboxes.claim('default');
    await open.updateNetworkPolicy(docsPolicy('corp-proxy-source', { mode: 'allow-all' }));
    await open.cmd(`node -e "const d=require('dgram').createSocket('udp4');d.send(Buffer.from('${vectors.v1.packet}','hex'),443,'198.18.0.78',()=>d.close())"`);
    const rejected = await waitForEvent(emu, (e) => e.sandbox_id === open.id && e.attributes.dest_ip === '198.18.0.78');
    expect(rejected.attributes).toMatchObject({ transport: 'udp', action: 'deny', host: 'example.com', reason: 'quic_not_proxied' });

    const dig = await sandbox.cmd('dig +short +time=2 +tries=1 api.internal.example.com');
    expect(dig.stdout.trim()).toBe('198.18.0.10');
    await sandbox.cmd('dig +time=1 +tries=1 @198.18.0.53 example.com');
    const foreign = await waitForEvent(emu, (e) => e.sandbox_id === sandbox.id && e.attributes.dest_ip === '198.18.0.53');
    expect(foreign.attributes).toMatchObject({ transport: 'udp', action: 'deny' });
    expect(emu.proxy!.connections.list()).toEqual([]);
  });
});
