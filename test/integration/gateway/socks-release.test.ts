import net, { type Server, type Socket } from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialViaProxy } from '../../../src/gateway/dial.js';
import { createTestProxy, type TestProxy } from '../../../src/test-proxy/proxy.js';

/**
 * Nothing of the SOCKS5 handshake (a timer armed until the proxy timeout, as the `socks` library's
 * was) may keep a finished flow's upstream socket (and its read buffers) alive.
 */
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

let service: Server;
let proxy: TestProxy;
const user = { username: 'u', password: 'p' };
beforeAll(async () => {
  service = net.createServer((s) => s.on('error', () => {}).pipe(s));
  await new Promise<void>((r) => service.listen(0, '127.0.0.1', () => r()));
  const port = (service.address() as net.AddressInfo).port;
  proxy = await createTestProxy({ users: [user], customerDns: { [`svc.example.com:${port}`]: `127.0.0.1:${port}` }, directIps: 'loopback' });
});
afterAll(async () => {
  await proxy.stop();
  await new Promise((r) => service.close(r));
});

const nextTurn = () => new Promise((r) => setImmediate(r));

describe('a proxied upstream after its flow', () => {
  it('is collectable as soon as it is closed, long before the proxy timeout', async () => {
    const port = (service.address() as net.AddressInfo).port;
    let ref: WeakRef<Socket> | undefined;
    await (async () => {
      const { socket } = await dialViaProxy({
        endpoint: { host: '127.0.0.1', port: proxy.port },
        label: 'test proxy',
        target: { atyp: 'domain', host: 'svc.example.com', port },
        credentials: user,
        timeoutMs: 60_000,
      });
      ref = new WeakRef(socket);
      await nextTurn();
      await nextTurn();
      await new Promise((r) => {
        socket.once('close', r);
        socket.destroy();
      });
    })();
    await nextTurn();
    gc();
    gc();
    expect(ref!.deref()).toBeUndefined();
  });
});
