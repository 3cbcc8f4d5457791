import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { SandboxResolver } from '../../../src/dns/resolver-server.js';
import { startExplicitIngress } from '../../../src/interception/explicit.js';
import { silentLogger } from '../../../src/log.js';
import { startEmulator } from '../../../src/emulator.js';
import { emulatorInternals } from '../../../src/internals.js';

/** `GET /_emulator/health` reports what the components say about themselves, not constants. */
const health = async (apiUrl: string) => {
  const res = await fetch(`${apiUrl}/_emulator/health`);
  return { status: res.status, body: (await res.json()) as { data: { status: string; components: Record<string, string> } } };
};

/** A sandbox claimed through the API (attached, with its explicit ingress ports, when this returns). */
async function claim(apiUrl: string, token: string): Promise<string> {
  const res = await fetch(`${apiUrl}/api/v1/sandboxes`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ template: 'default' }),
  });
  return ((await res.json()) as { data: { sandbox_id: string } }).data.sandbox_id;
}

describe('GET /_emulator/health', () => {
  it('is up while every component is, and shows the test proxy down once its server is closed', async () => {
    const emulator = await startEmulator({ ephemeral: true, port: 0 });
    try {
      await claim(emulator.apiUrl, emulator.token);
      const up = await health(emulator.apiUrl);
      expect(up.status).toBe(200);
      expect(up.body.data).toEqual({ status: 'ok', components: { api: 'up', store: 'up', gateway: 'up', testProxy: 'up', dns: 'up' } });

      await emulator.proxy!.stop();
      const down = await health(emulator.apiUrl);
      expect(down.status).toBe(503);
      expect(down.body.data).toEqual({ status: 'degraded', components: { api: 'up', store: 'up', gateway: 'up', testProxy: 'down', dns: 'up' } });
    } finally {
      await emulator.stop();
    }
  });

  it('shows the gateway down once its listeners are closed, and the test proxy disabled when not run', async () => {
    const emulator = await startEmulator({ ephemeral: true, port: 0, testProxy: false });
    try {
      const id = await claim(emulator.apiUrl, emulator.token);
      // An in-process connection opens the runtime's rendezvous listener too.
      const socket = await emulator.sandbox(id).connect({ ip: '127.0.0.1', port: 9 });
      socket.destroy();
      expect((await health(emulator.apiUrl)).body.data.components).toMatchObject({ gateway: 'up', testProxy: 'disabled' });
      await emulatorInternals(emulator).runtime.stop(); // closes every ingress port and the rendezvous listener
      const after = await health(emulator.apiUrl);
      expect(after.status).toBe(503);
      expect(after.body.data).toMatchObject({ status: 'degraded', components: { gateway: 'down', testProxy: 'disabled' } });
    } finally {
      await emulator.stop();
    }
  });
});

describe('healthy() of the components', () => {
  it('explicit ingress: true while both ports listen, false after stop', async () => {
    const ingress = await startExplicitIngress({ sandboxId: 'sb-h', logger: silentLogger(), resolve: () => undefined, onTcpFlow: () => {}, onUnresolvable: () => {} });
    expect(ingress.healthy()).toBe(true);
    await ingress.stop();
    expect(ingress.healthy()).toBe(false);
  });

  it('sandbox resolver: true only with both sockets bound, false once one is closed', async () => {
    const udp = dgram.createSocket('udp4');
    const tcp = net.createServer();
    const resolver = new SandboxResolver({ lookup: () => undefined, sandboxForAddress: () => 'sb-h', logger: silentLogger() });
    expect(resolver.healthy()).toBe(false); // nothing attached
    udp.bind(0, '127.0.0.1');
    tcp.listen(0, '127.0.0.1');
    await Promise.all([once(udp, 'listening'), once(tcp, 'listening')]);
    resolver.attachUdp(udp);
    resolver.attachTcp(tcp);
    expect(resolver.healthy()).toBe(true);
    await new Promise<void>((r) => tcp.close(() => r()));
    expect(resolver.healthy()).toBe(false);
    await resolver.close();
    expect(resolver.healthy()).toBe(false);
  });
});
