import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator.js';
import { waitForEvent } from '../../helpers/emulator.js';
import { ourEtcNetns, ourHostLinks, ourNamespaces, transparentUnavailable } from '../../helpers/netns.js';
import { emulatorInternals, type EmulatorInternals } from '../../../src/internals.js';

/**
 * The transparent sandbox resolver's answers feed the DNS snoop cache: `dig` in the sandbox, then an
 * unmodified SSH-speaking client to the answered address goes through the proxy by name. Nothing
 * leaves the machine: the SSH-like server is on loopback behind the test proxy's customer DNS view.
 */
const skip = transparentUnavailable();
const gitHost = 'git.internal.example.com';
const gitIp = '198.18.0.22';

describe.skipIf(skip)('transparent: SSH flows named by the sandbox resolver', () => {
  let emu: Emulator;
  let internals: EmulatorInternals;
  let sshServer: net.Server;
  const sockets = new Set<net.Socket>();
  beforeAll(async () => {
    emu = await startEmulator({ token: 't', interception: 'transparent' });
    internals = emulatorInternals(emu);
    sshServer = net.createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
      // Banner first; once the client's banner arrives, the server hangs up.
      s.on('data', () => s.end());
      s.write('SSH-2.0-test\r\n');
    });
    await new Promise<void>((r) => sshServer.listen(0, '127.0.0.1', () => r()));
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    if (sshServer) await new Promise((r) => sshServer.close(r));
    await emu?.stop();
    expect(ourNamespaces()).toEqual([]);
    expect(ourHostLinks()).toEqual([]);
    expect(ourEtcNetns()).toEqual([]);
  });

  it('dig answers from the sandbox resolver name the SSH flow: domain rule matched, CONNECT to git.internal.example.com:22', async () => {
    internals.gateway.platformDns.replace({ ...internals.gateway.platformDns.records(), [gitHost]: [gitIp] });
    emu.proxy!.customerDns = { ...emu.proxy!.customerDns, [`${gitHost}:22`]: `127.0.0.1:${(sshServer.address() as net.AddressInfo).port}` };
    internals.services.credentialSources.create({ name: 'src', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'proxy-user', password: 'proxy-pass' } } });
    const id = internals.services.sandboxes.claim({ template: 'default' }).sandbox_id;
    await internals.runtime.attach(id);
    internals.services.network.put(
      id,
      {
        mode: 'block-all',
        egress: {
          trafficRules: [{ name: 'allow-git-ssh', action: 'allow', domains: [gitHost], ports: [{ port: 22 }], appProtocols: ['ssh'] }],
          proxy: { type: 'socks5', address: 'proxy.example.com:1080', credentialRef: 'corp-proxy' },
        },
        credentialBindings: [{ ref: 'corp-proxy', sourceRef: 'src', projection: { type: 'username_password', usernamePassword: {} } }],
      },
      false,
    );

    const dig = await internals.runtime.exec(id, ['dig', '+short', '+time=2', '+tries=1', gitHost]);
    expect((await dig.subprocess).stdout.trim()).toBe(gitIp);
    expect(internals.gateway.dnsSnoop.lookup(id, gitIp)).toBe(gitHost);

    const client = `const s=require('net').connect(22,'${gitIp}',()=>s.write('SSH-2.0-client\\r\\n'));s.on('data',d=>process.stdout.write(d));s.on('error',e=>console.log(e.code))`;
    const ssh = await internals.runtime.exec(id, ['node', '-e', client], { timeoutMs: 10_000 });
    expect((await ssh.subprocess).stdout).toBe('SSH-2.0-test\r\n');
    expect(emu.proxy!.connections.list()[0]).toMatchObject({ atyp: 'domain', host: gitHost, port: 22, user: 'proxy-user' });
    const result = await waitForEvent(emu, (e) => e.sandbox_id === id && e.phase === 'result' && e.attributes.dest_port === 22);
    expect(result.attributes).toMatchObject({ protocol: 'ssh', host: gitHost, matched_rule: 'allow-git-ssh', proxy_target_atyp: 'domain', outcome: 'completed' });
  });
});
