import { createHash, randomBytes } from 'node:crypto';
import net, { type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator.js';
import { waitForEvent } from '../../helpers/emulator.js';
import { viaIngress } from '../../helpers/sandbox-client.js';
import { emulatorInternals, type EmulatorInternals } from '../../../src/internals.js';

/**
 * The gateway's relay on its own: bulk both ways with backpressure (a slow reader), byte-exact, and
 * a server-first service whose banner arrives right behind the proxy's CONNECT reply (the bytes the
 * SOCKS5 client read past its handshake) or before the relay starts (a direct route).
 */
const MiB = 2 ** 20;
const bulk = randomBytes(24 * MiB);
const bulkHash = createHash('sha256').update(bulk).digest('hex');
const banner = 'SSH-2.0-relay-test\r\n';
const hello = 'hello world\r\n';
const serviceHost = 'svc.internal.example.com';
const serviceIp = '198.18.0.44';

/** download: sends `bulk` then closes; upload: hashes what it gets until EOF, answers the hash; banner: greets, then echoes. */
const ports: Record<'download' | 'upload' | 'banner' | 'trickle', number> = { download: 0, upload: 0, banner: 0, trickle: 0 };
/** The trickle service's answer: many small writes, so the relays' reads stay small. */
const trickleBytes = 6 * MiB;
const tricklePiece = 1000;
const serviceSockets = new Set<Socket>();

function listen(onConnection: (s: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = net.createServer((s) => {
    serviceSockets.add(s);
    s.on('close', () => serviceSockets.delete(s));
    s.on('error', () => {});
    onConnection(s);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as net.AddressInfo).port })));
}

const servers: Server[] = [];
let emu: Emulator;
let internals: EmulatorInternals;

beforeAll(async () => {
  const download = await listen((s) => s.end(bulk));
  const upload = await listen((s) => {
    const h = createHash('sha256');
    s.on('data', (d) => h.update(d));
    s.on('end', () => s.end(h.digest('hex')));
  });
  const greet = await listen((s) => {
    s.write(banner);
    s.pipe(s);
  });
  const trickle = await listen((s) => {
    let left = trickleBytes;
    const piece = Buffer.alloc(tricklePiece, 0x61);
    const next = () => {
      if (s.destroyed) return;
      if (left <= 0) return void s.end();
      const n = Math.min(left, tricklePiece);
      left -= n;
      const more = s.write(n === tricklePiece ? piece : piece.subarray(0, n));
      if (more) setImmediate(next);
      else s.once('drain', next);
    };
    s.once('data', next);
  });
  servers.push(download.server, upload.server, greet.server, trickle.server);
  ports.trickle = trickle.port;
  ports.download = download.port;
  ports.upload = upload.port;
  ports.banner = greet.port;
  emu = await startEmulator({ token: 't' });
  internals = emulatorInternals(emu);
});

afterAll(async () => {
  for (const s of serviceSockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  await emu.stop();
});

/** A sandbox with allow-all egress, through the embedded proxy (`proxied`) or direct to the loopback service. */
async function sandbox(proxied: boolean): Promise<string> {
  await emu.reset();
  internals.gateway.platformDns.replace({ ...internals.gateway.platformDns.records(), [serviceHost]: [serviceIp] });
  // Both routes reach the loopback services: the proxy through its customer DNS, direct through platform endpoint records.
  // Unclassified flows (these services speak no known protocol) reach the proxy by IP, classified ones by name.
  emu.proxy!.customerDns = Object.fromEntries(Object.values(ports).flatMap((p) => [`${serviceHost}:${p}`, `${serviceIp}:${p}`].map((k) => [k, `127.0.0.1:${p}`])));
  internals.gateway.platformDns.replace({ ...internals.gateway.platformDns.records(), ...Object.fromEntries(Object.values(ports).map((p) => [`${serviceIp}:${p}`, [`127.0.0.1:${p}`]])) });
  internals.services.credentialSources.create({ name: 'src', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { ...emu.proxy!.users[0]! } } });
  const id = internals.services.sandboxes.claim({ template: 'default' }).sandbox_id;
  await internals.runtime.attach(id);
  internals.services.network.put(
    id,
    {
      mode: 'allow-all',
      ...(proxied
        ? {
            egress: { proxy: { type: 'socks5', address: emu.info().testProxy!.address, credentialRef: 'p' } },
            credentialBindings: [{ ref: 'p', sourceRef: 'src', projection: { type: 'username_password', usernamePassword: {} } }],
          }
        : {}),
    },
    false,
  );
  return id;
}

const connect = (id: string, port: number) => viaIngress(emu.sandbox(id).view()!.ingress!.socks5, serviceHost, port);

/** Reads everything with pauses (a slow consumer), so the relay must hold back. */
function slowRead(socket: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let reads = 0;
    socket.on('data', (d) => {
      chunks.push(d);
      if (++reads % 64 === 0) {
        socket.pause();
        setTimeout(() => socket.resume(), 5);
      }
    });
    socket.on('error', reject);
    socket.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

const resultEvent = (id: string) => waitForEvent(emu, (e) => e.sandbox_id === id && e.phase === 'result');

describe.each([
  ['through the proxy', true],
  ['direct', false],
])('relay %s', (_name, proxied) => {
  it('delivers a download byte for byte to a slow reader and counts it', async () => {
    const id = await sandbox(proxied);
    const socket = await connect(id, ports.download);
    socket.write(hello); // no known protocol's prefix, so classified at once
    const got = await slowRead(socket);
    expect(got.length).toBe(bulk.length);
    expect(createHash('sha256').update(got).digest('hex')).toBe(bulkHash);
    const result = await resultEvent(id);
    expect(result.attributes).toMatchObject({ outcome: 'completed', route: proxied ? 'proxy' : 'direct', ingress_bytes: bulk.length, egress_bytes: hello.length });
  });

  it('keeps a trickle of small reads flowing to a client that first lets its buffers fill', async () => {
    // A small read written to a full client stays queued below the high-water mark, where no
    // 'drain' ever comes: the relay must resume on the write's own completion.
    const id = await sandbox(proxied);
    const socket = await connect(id, ports.trickle);
    await new Promise((r) => setImmediate(r)); // the SOCKS5 client resumes the socket on its next turn
    socket.pause();
    socket.write(hello);
    // Let the service fill every buffer on the way (bounded wait, then read everything).
    await new Promise((r) => setTimeout(r, 300));
    socket.resume();
    const got = await slowRead(socket);
    expect(got.length).toBe(trickleBytes);
  });

  it('delivers an upload byte for byte and passes the half-close on', async () => {
    const id = await sandbox(proxied);
    const socket = await connect(id, ports.upload);
    const answer = slowRead(socket);
    socket.end(bulk);
    expect((await answer).toString()).toBe(bulkHash);
    const result = await resultEvent(id);
    expect(result.attributes).toMatchObject({ outcome: 'completed', egress_bytes: bulk.length, ingress_bytes: 64 });
  });

  it('passes on a banner the service sends before the client says anything', async () => {
    const id = await sandbox(proxied);
    const socket = await connect(id, ports.banner);
    // The client is silent, so the gateway classifies after its first-read timeout and then dials.
    const first = await new Promise<string>((resolve, reject) => {
      socket.once('data', (d) => resolve(d.toString()));
      socket.once('error', reject);
      socket.once('close', () => resolve('(closed)'));
    });
    expect(first).toBe(banner);
    const echoed = new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (d) => {
        text += d.toString();
        if (text === 'ping') resolve(text);
      });
    });
    socket.write('ping');
    expect(await echoed).toBe('ping');
    socket.end();
    const result = await resultEvent(id);
    expect(result.attributes).toMatchObject({ outcome: 'completed', ingress_bytes: banner.length + 4, egress_bytes: 4 });
  });
});
