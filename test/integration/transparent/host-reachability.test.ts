import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'sandbox0';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator.js';
import { waitForEvent } from '../../helpers/emulator.js';
import { ourEtcNetns, ourHostLinks, ourNamespaces, transparentUnavailable } from '../../helpers/netns.js';

/**
 * Transparent mode: what an unmodified program in a sandbox namespace reaches on the emulator's
 * machine. 127.0.0.1 there is the namespace's own loopback (as in a pod); the gateway's address
 * answers DNS (the sandbox resolver) and nothing else: not the API, not a host loopback service.
 */
const skip = transparentUnavailable();

describe.skipIf(skip)('transparent sandboxes and the emulator host', () => {
  let emu: Emulator;
  let sdk: Client;
  let service: net.Server;
  let servicePort = 0;
  let serviceHits = 0;
  let dir = '';
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'see-host-reach-'));
    chmodSync(dir, 0o755); // sandbox commands run as uid 65534
    service = net.createServer((s) => {
      serviceHits++;
      s.on('error', () => {});
      s.resume();
      s.end('service\n');
    });
    await new Promise<void>((r) => service.listen(0, '127.0.0.1', () => r()));
    servicePort = (service.address() as net.AddressInfo).port;
    emu = await startEmulator({ token: 's0_local_' + '0f'.repeat(24), interception: 'transparent' });
    sdk = new Client({ token: emu.token, baseUrl: emu.apiUrl });
  });
  afterAll(async () => {
    await emu?.stop();
    await new Promise((r) => service?.close(r));
    rmSync(dir, { recursive: true, force: true });
    expect(ourNamespaces()).toEqual([]);
    expect(ourHostLinks()).toEqual([]);
    expect(ourEtcNetns()).toEqual([]);
  });

  it('reaches its own loopback and its resolver, never the API or host services through the gateway address', async () => {
    const sandbox = await sdk.sandboxes.claim('default'); // no policy: unrestricted, but not the host
    const script = join(dir, 'probe.cjs');
    writeFileSync(
      script,
      `const net = require('net');
const gateway = /nameserver\\s+(\\S+)/.exec(require('fs').readFileSync('/etc/resolv.conf', 'utf8'))[1];
const probe = (host, port) => new Promise((resolve) => {
  const s = net.connect(port, host);
  let got = '';
  const timer = setTimeout(() => { s.destroy(); resolve('timeout'); }, 5000);
  s.on('connect', () => s.write('GET /healthz HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n'));
  s.on('data', (d) => (got += d));
  s.on('error', (e) => { clearTimeout(timer); resolve(e.code); });
  s.on('close', () => { clearTimeout(timer); resolve(got ? 'data: ' + got.slice(0, 20) : 'closed'); });
});
(async () => {
  const [api, service] = process.argv.slice(2).map(Number);
  const out = { gateway, loopbackApi: await probe('127.0.0.1', api), gatewayApi: await probe(gateway, api), gatewayService: await probe(gateway, service) };
  out.dns = await require('dns').promises.resolve4('api.internal.example.com');
  console.log(JSON.stringify(out));
})();
`,
    );
    const r = await sandbox.cmd(`node ${script} ${emu.port} ${servicePort}`);
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    // The namespace's own loopback: nothing listens there, and the gateway never sees it.
    expect(['ECONNREFUSED', 'ENETUNREACH']).toContain(out.loopbackApi);
    // The gateway address: the flow is redirected to the gateway, which denies it.
    expect(out.gatewayApi).toBe('closed');
    expect(out.gatewayService).toBe('closed');
    expect(out.dns).toEqual(['198.18.0.10']);
    const gateway = out.gateway as string;
    const api = await waitForEvent(emu, (e) => e.sandbox_id === sandbox.id && e.phase === 'result' && e.attributes.dest_ip === gateway && e.attributes.dest_port === emu.port);
    expect(api.attributes).toMatchObject({ action: 'deny', reason: 'emulator_port_denied', outcome: 'denied' });
    const svc = await waitForEvent(emu, (e) => e.sandbox_id === sandbox.id && e.phase === 'result' && e.attributes.dest_ip === gateway && e.attributes.dest_port === servicePort);
    expect(svc.attributes).toMatchObject({ action: 'deny', reason: 'host_local_denied' });
    expect(emu.flows({ sandboxId: sandbox.id }).filter((e) => e.attributes.dest_ip === '127.0.0.1')).toEqual([]);
    expect(serviceHits).toBe(0);
  });
});
