import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator.js';
import type { NetworkAuditEvent } from '../../../src/gateway/audit.js';
import { docsPolicy } from '../../helpers/docs-policy.js';
import { waitForEvent } from '../../helpers/emulator.js';
import { bulkResponseHead, download, startBulkService, startProxyProcess, type BulkService, type DownloadEnd, type ProxyProcess } from '../../helpers/fault-services.js';
import { viaIngress } from '../../helpers/sandbox-client.js';
import { emulatorInternals, type EmulatorInternals } from '../../../src/internals.js';

/**
 * Faults in the middle of a relayed flow (issue 8): the test proxy killed during a large download, the
 * proxy resetting, the customer's service resetting behind the proxy, and a directly dialled service
 * resetting. The sandbox always sees its connection end (never a hang) and the audit result carries
 * what the gateway saw and the bytes relayed until then.
 */
const bulkHost = 'bulk.internal.example.com';
const MiB = 1024 * 1024;
const huge = 1024 * MiB; // never sent in full: backpressure holds the service back

let emu: Emulator;
let internals: EmulatorInternals;
const cleanups: (() => Promise<void> | void)[] = [];
beforeAll(async () => {
  emu = await startEmulator({ token: 't', gatewayTimeouts: { proxyMs: 2_000 } });
  internals = emulatorInternals(emu);
});
afterAll(async () => {
  await emu.stop();
});
beforeEach(async () => {
  await emu.reset();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function bulk(options: Parameters<typeof startBulkService>[0]): Promise<BulkService> {
  const service = await startBulkService(options);
  cleanups.push(() => service.stop());
  return service;
}

/** A sandbox whose allowed TCP goes through the SOCKS5 proxy (the docs' policy in allow-all mode). */
async function proxiedSandbox() {
  internals.services.credentialSources.create({ name: 'src', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'proxy-user', password: 'proxy-pass' } } });
  const id = internals.services.sandboxes.claim({ template: 'default' }).sandbox_id;
  await internals.runtime.attach(id);
  internals.services.network.put(id, docsPolicy('src', { mode: 'allow-all' }), false);
  return { id, ingress: emu.sandbox(id).view()!.ingress!.socks5 };
}

/** Rejects when the sandbox's connection has not ended within `ms`: a hang is the failure we look for. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

const resultOf = (id: string): Promise<NetworkAuditEvent> => waitForEvent(emu, (e) => e.sandbox_id === id && e.phase === 'result');

/** Downloads from `bulkHost` through the sandbox's ingress (dialling a 198.18/15 address, the name in the Host header). */
async function sandboxDownload(ingress: string, onProgress?: (n: number) => void): Promise<DownloadEnd> {
  const socket = await viaIngress(ingress, '198.18.0.80', 80);
  return within(download(socket, bulkHost, onProgress), 10_000, 'the end of the sandbox connection');
}

describe('the test proxy dies mid-transfer', () => {
  let proxy: ProxyProcess | undefined;
  afterEach(() => {
    proxy?.child.kill('SIGKILL');
    proxy = undefined;
  });

  it('SIGKILL during a large download: the sandbox sees the stream end, the audit has the bytes so far, new flows fail at proxy_connect', async () => {
    const service = await bulk({ totalBytes: huge });
    proxy = await startProxyProcess({ [`${bulkHost}:80`]: `127.0.0.1:${service.port}` });
    const killed = proxy.child;
    internals.gateway.platformDns.replace({ ...internals.gateway.platformDns.records(), 'proxy.example.com:1080': [proxy.address] });
    const { id, ingress } = await proxiedSandbox();

    let kills = 0;
    const end = await sandboxDownload(ingress, (n) => {
      if (n >= 2 * MiB && kills++ === 0) killed.kill('SIGKILL');
    });
    expect((await killed).signal).toBe('SIGKILL');
    expect(end.end).toBe('fin');
    expect(end.received).toBeGreaterThanOrEqual(2 * MiB);
    expect(end.received).toBeLessThan(huge);

    const result = await resultOf(id);
    expect(result.attributes).toMatchObject({ route: 'proxy', proxy_target: `${bulkHost}:80`, proxy_target_atyp: 'domain' });
    // A killed process's sockets are closed by the kernel: the gateway reads a clean end of stream from
    // the proxy (nothing unread was left in the proxy's buffers), exactly like a proxy that finished.
    expect(result.attributes).toMatchObject({ outcome: 'completed' });
    expect(result.attributes.ingress_bytes).toBe(end.received);
    expect(result.attributes.egress_bytes).toBeGreaterThan(0);

    // The proxy is gone: the next flow is accepted, closed without payload, and audited at proxy_connect.
    const next = await sandboxDownload(ingress);
    expect(next.received).toBe(0);
    const failed = await waitForEvent(emu, (e) => e.sandbox_id === id && e.phase === 'result' && e.attributes.flow_id !== result.attributes.flow_id);
    expect(failed.attributes).toMatchObject({ outcome: 'error', error_step: 'proxy_connect', egress_bytes: 0, ingress_bytes: 0 });
    expect(failed.attributes.error).toContain('ECONNREFUSED');
  });

  it('the test proxy stopped (SIGTERM: its relays are closed) during a large download: the same clean end for the sandbox', async () => {
    const service = await bulk({ totalBytes: huge });
    const standalone = await startProxyProcess({ [`${bulkHost}:80`]: `127.0.0.1:${service.port}` });
    proxy = standalone;
    internals.gateway.platformDns.replace({ ...internals.gateway.platformDns.records(), 'proxy.example.com:1080': [standalone.address] });
    const { id, ingress } = await proxiedSandbox();
    let stopped = 0;
    const end = await sandboxDownload(ingress, (n) => {
      if (n >= MiB && stopped++ === 0) standalone.child.kill('SIGTERM');
    });
    expect((await standalone.child).exitCode).toBe(0);
    expect(end).toMatchObject({ end: 'fin' });
    expect(end.received).toBeLessThan(huge);
    const result = await resultOf(id);
    expect(result.attributes.ingress_bytes).toBe(end.received);
  });
});

describe('resets mid-stream', () => {
  it("the proxy resets the connection (reset_after_bytes): the sandbox's flow ends, the audit says relay error, upstream ECONNRESET", async () => {
    const service = await bulk({ totalBytes: huge });
    emu.proxy!.customerDns = { ...emu.proxy!.customerDns, [`${bulkHost}:80`]: `127.0.0.1:${service.port}` };
    emu.proxy!.faults.add({ name: 'rst', type: 'reset_after_bytes', toxicity: 1, attributes: { bytes: MiB, direction: 'down' } });
    const { id, ingress } = await proxiedSandbox();
    const end = await sandboxDownload(ingress);
    expect(end.received).toBeLessThanOrEqual(MiB);
    expect(end.received).toBeGreaterThan(0);

    const result = await resultOf(id);
    expect(result.attributes).toMatchObject({ outcome: 'error', error_step: 'relay', error: 'upstream ECONNRESET', route: 'proxy' });
    expect(result.attributes.ingress_bytes).toBe(end.received);
    const log = emu.proxy!.connections.list();
    expect(log[0]).toMatchObject({ host: bulkHost, closeCause: 'fault', faults: ['rst'] });
  });

  it("the customer's service resets behind the proxy: the proxy closes the tunnel, the sandbox sees the end, the proxy's log names the upstream error", async () => {
    const service = await bulk({ totalBytes: huge, holdAfterBytes: MiB });
    emu.proxy!.customerDns = { ...emu.proxy!.customerDns, [`${bulkHost}:80`]: `127.0.0.1:${service.port}` };
    const { id, ingress } = await proxiedSandbox();
    const end = await sandboxDownload(ingress, resetOnceReceived(service));
    expect(end).toMatchObject({ received: bulkResponseHead.length + MiB });
    // Like most SOCKS5 proxies, the test proxy closes its client side normally when the destination
    // resets: the gateway reads an end of stream, so the audit says completed; the proxy's log says why.
    const result = await resultOf(id);
    expect(result.attributes).toMatchObject({ outcome: 'completed', route: 'proxy', ingress_bytes: end.received });
    expect(await waitForClosedConnection()).toMatchObject({ host: bulkHost, closeCause: 'upstream-error' });
  });

  it('a directly dialled service resets: the sandbox sees the end, the audit result is a relay error with the bytes so far', async () => {
    const service = await bulk({ totalBytes: huge, holdAfterBytes: MiB });
    internals.gateway.platformDns.replace({ ...internals.gateway.platformDns.records(), '198.18.0.80:80': [`127.0.0.1:${service.port}`] });
    const id = internals.services.sandboxes.claim({ template: 'default' }).sandbox_id;
    await internals.runtime.attach(id);
    internals.services.network.put(id, { mode: 'allow-all' }, false);
    const end = await sandboxDownload(emu.sandbox(id).view()!.ingress!.socks5, resetOnceReceived(service));
    expect(end.received).toBe(bulkResponseHead.length + MiB);
    const result = await resultOf(id);
    expect(result.attributes).toMatchObject({ route: 'direct', outcome: 'error', error_step: 'relay', error: 'upstream ECONNRESET', ingress_bytes: end.received });
    expect(result.attributes.egress_bytes).toBeGreaterThan(0);
  });
});

/** Resets the service's connections once the sandbox holds every byte the service sent (nothing left in flight). */
function resetOnceReceived(service: BulkService): (received: number) => void {
  let reset = false;
  return (received) => {
    if (!reset && received >= bulkResponseHead.length + MiB) {
      reset = true;
      service.resetAll();
    }
  };
}

/** The test proxy logs a connection as closed after its relay ended, which may be just after the sandbox saw it. */
async function waitForClosedConnection() {
  for (let i = 0; i < 200; i++) {
    const closed = emu.proxy!.connections.list({ state: 'closed' })[0];
    if (closed) return closed;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`the test proxy never logged a closed connection: ${JSON.stringify(emu.proxy!.connections.list())}`);
}
