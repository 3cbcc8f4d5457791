import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator.js';
import { waitForEvent } from '../../helpers/emulator.js';
import { httpGet, viaIngress } from '../../helpers/sandbox-client.js';
import { hasBinary, isRoot, startDante, startMicrosocks, type ExternalProxy } from '../../helpers/socks-servers.js';
import { emulatorInternals, type EmulatorInternals } from '../../../src/internals.js';

/**
 * The same gateway flow through real third-party SOCKS5 proxies with username/password auth. They
 * resolve the hostname themselves, so the target is `localhost` (their resolver knows it) and the
 * service is the identify fixture, which reports the peer it sees: the proxy, not the gateway.
 */
const peers: [string, () => boolean, () => Promise<ExternalProxy>][] = [
  ['microsocks', () => hasBinary('microsocks'), () => startMicrosocks()],
  ['dante-server', () => hasBinary('danted') && isRoot(), () => startDante()],
];

let emu: Emulator;
let internals: EmulatorInternals;
beforeAll(async () => {
  emu = await startEmulator({ token: 't' });
  internals = emulatorInternals(emu);
});
afterAll(async () => {
  await emu.stop();
});

describe.each(peers)('interop with %s', (name, available, start) => {
  const skip = !available();
  if (skip) process.stderr.write(`[interop ${name} skipped] binary missing or not root (.ci/run installs microsocks and dante-server and runs as root)\n`);

  it.skipIf(skip)('forwards the hostname with the bound credentials and relays the answer', async () => {
    const proxy = await start();
    try {
      await emu.reset();
      const identifyPort = internals.customerServices!.identify.port;
      internals.gateway.platformDns.replace({ ...internals.gateway.platformDns.records(), localhost: ['198.18.0.30'], [`${name}.example.com:1080`]: [`127.0.0.1:${proxy.port}`] });
      internals.services.credentialSources.create({ name: 'ext', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: proxy.username, password: proxy.password } } });
      const id = internals.services.sandboxes.claim({ template: 'default' }).sandbox_id;
      await internals.runtime.attach(id);
      internals.services.network.put(
        id,
        {
          mode: 'block-all',
          egress: {
            trafficRules: [{ name: 'allow-identify', action: 'allow', domains: ['localhost'], ports: [{ port: identifyPort, protocol: 'tcp' }], appProtocols: ['http'] }],
            proxy: { type: 'socks5', address: `${name}.example.com:1080`, credentialRef: 'ext-proxy' },
          },
          credentialBindings: [{ ref: 'ext-proxy', sourceRef: 'ext', projection: { type: 'username_password', usernamePassword: {} } }],
        },
        false,
      );
      const socket = await viaIngress(emu.sandbox(id).view()!.ingress!.socks5, 'localhost', identifyPort);
      const gatewaySide = `${socket.localAddress}:${socket.localPort}`;
      const answer = await httpGet(socket, `localhost:${identifyPort}`);
      expect(answer.status).toBe(200);
      const seen = JSON.parse(answer.body);
      expect(seen.service).toBe('identify');
      expect(seen.peer).not.toBe(gatewaySide);
      const result = await waitForEvent(emu, (e) => e.sandbox_id === id && e.phase === 'result');
      expect(result.attributes).toMatchObject({
        action: 'use-adapter',
        outcome: 'completed',
        matched_rule: 'allow-identify',
        protocol: 'http',
        route: 'proxy',
        proxy_target_atyp: 'domain',
        proxy_target: `localhost:${identifyPort}`,
        auth_resolved: true,
      });
    } finally {
      await proxy.stop();
    }
  });
});
