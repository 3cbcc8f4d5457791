// @ts-check
// The processes the gateway benchmark measures, each alone in a child process so its CPU and memory
// can be read without the client's: the emulator (gateway + test proxy), a bare two-hop Node pipe
// relay (the baseline), and the loopback blob server (the service). Parent and child talk over the
// IPC channel: the child sends {ready, ...} once listening, then answers {id, op} with {id, result}.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import { answerParent } from './ipc-child.mjs';

export const blobHost = 'blob.internal.example.com';
/** The sandbox-visible address of the blob service (data only: it never leaves the gateway). */
export const blobSandboxIp = '198.18.0.30';
export const proxyUser = { username: 'bench-user', password: 'bench-pass' };

/** The network policy the benchmark's sandboxes get: plain HTTP to the blob host, through the proxy. */
export const benchPolicy = {
  mode: 'block-all',
  egress: {
    trafficRules: [{ name: 'allow-blob', action: 'allow', domains: [blobHost], ports: [{ port: 80, protocol: 'tcp' }], appProtocols: ['http'] }],
    proxy: { type: 'socks5', address: 'proxy.example.com:1080', credentialRef: 'corp-proxy' },
  },
  credentialBindings: [{ ref: 'corp-proxy', sourceRef: 'bench-src', projection: { type: 'username_password', usernamePassword: {} } }],
};

function procStatusKb(field) {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** This process's open descriptors, and how many of them are sockets. */
function descriptors() {
  let total = 0;
  let sockets = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    total++;
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:')) sockets++;
    } catch {
      // closed between the listing and the read (the listing's own descriptor)
    }
  }
  return { total, sockets };
}

/** Answers the parent's requests (cpu, mem, fds, stop); `extra` adds child-specific operations. */
function serveIpc(extra, stop) {
  answerParent(
    {
      cpu: () => process.cpuUsage(),
      mem: () => {
        const m = process.memoryUsage();
        return { rssKb: procStatusKb('VmRSS'), hwmKb: procStatusKb('VmHWM'), heapUsedKb: m.heapUsed / 1024, arrayBuffersKb: m.arrayBuffers / 1024 };
      },
      fds: () => descriptors(),
      ...extra,
    },
    stop,
  );
}

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });
}

function closeServer(server, sockets) {
  return /** @type {Promise<void>} */ (new Promise((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  }));
}

function track(server) {
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return sockets;
}

const chunk = Buffer.alloc(1 << 20, 'x');
const maxBlobBytes = 64 * 2 ** 30;

/**
 * The service: `GET /blob/<n>` streams n bytes (backpressure honoured), `GET /tiny` answers 2 bytes,
 * `GET /hold` answers headers and one byte and keeps the connection open until the client closes.
 * Anything else gets a 400. It always closes after one answer.
 */
export async function serveBlob() {
  const server = net.createServer((s) => {
    s.on('error', () => {});
    let head = '';
    const onData = (d) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) {
        if (head.length > 8192) s.destroy();
        return;
      }
      s.off('data', onData);
      const path = /^GET (\S+) HTTP\/1\.[01]\r\n/.exec(head)?.[1] ?? '';
      const blob = /^\/blob\/(\d+)$/.exec(path);
      if (path === '/tiny') s.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');
      else if (path === '/hold') s.write('HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\nconnection: close\r\n\r\nx');
      else if (blob && Number(blob[1]) <= maxBlobBytes) {
        let left = Number(blob[1]);
        s.write(`HTTP/1.1 200 OK\r\ncontent-length: ${left}\r\nconnection: close\r\n\r\n`);
        const pump = () => {
          while (left > 0) {
            const n = Math.min(left, chunk.length);
            left -= n;
            if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void s.once('drain', pump);
          }
          s.end();
        };
        pump();
      } else s.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    };
    s.on('data', onData);
  });
  const sockets = track(server);
  const port = await listen(server);
  serveIpc({}, () => closeServer(server, sockets));
  process.send?.({ ready: true, port });
}

/**
 * The baseline: client → hop 1 → hop 2 → blob server, each hop a bare `pipe` both ways. `single`:
 * one hop only (to `blobPort`, which may be another hop), for the concurrent-flow figure.
 */
export async function serveRelay(blobPort, single = false) {
  const hop = (nextPort) =>
    net.createServer((a) => {
      const b = net.connect({ host: '127.0.0.1', port: nextPort });
      a.on('error', () => b.destroy());
      b.on('error', () => a.destroy());
      a.pipe(b).pipe(a);
    });
  if (single) {
    const only = hop(blobPort);
    const onlySockets = track(only);
    const port = await listen(only);
    serveIpc({}, () => closeServer(only, onlySockets));
    process.send?.({ ready: true, port });
    return;
  }
  const hop2 = hop(blobPort);
  const hop2Sockets = track(hop2);
  const hop2Port = await listen(hop2);
  await announceFront(hop(hop2Port), hop2, hop2Sockets);
}

/**
 * Listens with `front` and tells the parent its port; `back` (already listening) is what it forwards
 * to. Stopping closes both.
 * @param {net.Server} front @param {net.Server} back @param {Set<net.Socket>} backSockets
 */
async function announceFront(front, back, backSockets) {
  const frontSockets = track(front);
  const port = await listen(front);
  serveIpc({}, async () => {
    await closeServer(front, frontSockets);
    await closeServer(back, backSockets);
  });
  process.send?.({ ready: true, port });
}

/**
 * Reads whole SOCKS5 messages off `socket`: `next(size)` resolves with the next message once
 * `size(buffered)` (the length the bytes so far announce, or 0 while too short to tell) is buffered.
 * @param {net.Socket} socket
 */
function messages(socket) {
  let buffered = /** @type {Buffer} */ (Buffer.alloc(0));
  /** @type {{ size: (b: Buffer) => number, resolve: (m: Buffer) => void } | undefined} */
  let want;
  const pump = () => {
    if (!want) return;
    const n = want.size(buffered);
    if (n === 0 || buffered.length < n) return;
    const { resolve } = want;
    want = undefined;
    const message = buffered.subarray(0, n);
    buffered = buffered.subarray(n);
    resolve(message);
  };
  const onData = (/** @type {Buffer} */ d) => {
    buffered = buffered.length ? Buffer.concat([buffered, d]) : d;
    pump();
  };
  socket.on('data', onData);
  return {
    /** @param {(b: Buffer) => number} size @returns {Promise<Buffer>} */
    next: (size) => new Promise((resolve) => ((want = { size, resolve }), pump())),
    /** Stops reading messages; what is buffered is the start of the stream. */
    release: () => (socket.off('data', onData), buffered),
  };
}
const greetingSize = (/** @type {Buffer} */ b) => (b.length < 2 ? 0 : 2 + b[1]);
const authSize = (/** @type {Buffer} */ b) => (b.length < 2 || b.length < 3 + b[1] ? 0 : 3 + b[1] + b[2 + b[1]]);
const requestSize = (/** @type {Buffer} */ b) => (b.length < 5 ? 0 : b[3] === 1 ? 10 : b[3] === 4 ? 22 : 7 + b[4]);
const fixed = (/** @type {number} */ n) => (/** @type {Buffer} */ b) => (b.length < n ? 0 : n);
const successReply = Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 0]);

/**
 * The socket floor of the emulator's explicit chain: the same topology and the same messages with
 * no policy, classification, audit or logging. Hop 1 is a no-auth SOCKS5 server that answers the
 * CONNECT at once, waits for the first bytes (the gateway classifies them), then dials hop 2 as a
 * SOCKS5 client with RFC 1929 auth and a domain CONNECT; hop 2 checks nothing and connects to the
 * blob server. Four socket ends and the same twelve writes per connection as the emulator.
 */
export async function serveSocksRelay(blobPort) {
  const user = Buffer.from(proxyUser.username);
  const pass = Buffer.from(proxyUser.password);
  const relay = (/** @type {net.Socket} */ a, /** @type {net.Socket} */ b) => {
    a.on('error', () => b.destroy());
    b.on('error', () => a.destroy());
    a.pipe(b).pipe(a);
  };
  const hop2 = net.createServer(async (s) => {
    s.on('error', () => {});
    const m = messages(s);
    await m.next(greetingSize);
    s.write(Buffer.from([5, 2]));
    await m.next(authSize);
    s.write(Buffer.from([1, 0]));
    await m.next(requestSize);
    const up = net.connect({ host: '127.0.0.1', port: blobPort }, () => {
      s.write(successReply);
      const rest = m.release();
      if (rest.length) up.write(rest);
      relay(s, up);
    });
    up.on('error', () => s.destroy());
  });
  const hop2Sockets = track(hop2);
  const hop2Port = await listen(hop2);
  const hop1 = net.createServer(async (s) => {
    s.on('error', () => {});
    const m = messages(s);
    await m.next(greetingSize);
    s.write(Buffer.from([5, 0]));
    const request = await m.next(requestSize);
    s.write(successReply);
    const first = await m.next((b) => (b.length ? b.length : 0));
    const up = net.connect({ host: '127.0.0.1', port: hop2Port });
    up.setNoDelay(true);
    up.on('error', () => s.destroy());
    const um = messages(up);
    up.write(Buffer.from([5, 1, 2]));
    await um.next(fixed(2));
    up.write(Buffer.concat([Buffer.from([1, user.length]), user, Buffer.from([pass.length]), pass]));
    await um.next(fixed(2));
    up.write(Buffer.concat([Buffer.from([5, 1, 0]), request.subarray(3)]));
    await um.next(fixed(10));
    um.release();
    up.write(Buffer.concat([first, m.release()]));
    relay(s, up);
  });
  await announceFront(hop1, hop2, hop2Sockets);
}

/** The bench policy with its proxy at `address` (one sandbox per external test proxy process). */
const policyVia = (address) => {
  const p = structuredClone(benchPolicy);
  p.egress.proxy.address = address;
  return p;
};

/**
 * The emulator (API, gateway, embedded test proxy) with the blob service in both DNS views and a
 * static credential source. Explicit mode: one sandbox with the bench policy, its SOCKS5 ingress
 * reported. Transparent mode: sandboxes are claimed through the API by the parent; `policy` applies
 * the bench policy to one.
 *
 * `externalProxyPorts` (the test proxy in processes of its own; only for the concurrent-flow figures,
 * where one process holding both hops would need more descriptors than this machine allows): no
 * embedded proxy. One port: the one sandbox's policy names proxy.example.com:1080, mapped to it in the
 * platform DNS view. Several (explicit mode): one sandbox per port, sandbox k's policy naming
 * proxy-<k>.example.com:1080 mapped to port k; `ingresses` lists their SOCKS5 ingresses in that order.
 */
export async function serveEmulator(blobPort, interception, externalProxyPorts = []) {
  const { startEmulator } = await import('../../dist/emulator.js');
  const { emulatorInternals } = await import('../../dist/internals.js');
  const external = externalProxyPorts.length > 0;
  const emu = await startEmulator({ token: 'bench-token', interception, testProxy: external ? false : { users: [proxyUser] } });
  const { services, gateway, runtime } = emulatorInternals(emu);
  services.credentialSources.create({ name: 'bench-src', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { ...proxyUser } } });
  if (emu.proxy) emu.proxy.customerDns = { ...emu.proxy.customerDns, [`${blobHost}:80`]: `127.0.0.1:${blobPort}` };
  const proxyAddresses = externalProxyPorts.length > 1 ? externalProxyPorts.map((_, k) => `proxy-${k}.example.com:1080`) : [benchPolicy.egress.proxy.address];
  const proxyRecords = Object.fromEntries(externalProxyPorts.map((port, k) => [proxyAddresses[k], [`127.0.0.1:${port}`]]));
  gateway.platformDns.replace({ ...gateway.platformDns.records(), [blobHost]: [blobSandboxIp], ...proxyRecords });
  const policy = (id, address = proxyAddresses[0]) => services.network.put(id, policyVia(address), false);
  const ingresses = [];
  if (interception === 'explicit') {
    for (const address of proxyAddresses) {
      const id = services.sandboxes.claim({ template: 'default' }).sandbox_id;
      await runtime.attach(id);
      policy(id, address);
      ingresses.push(emu.sandbox(id).view()?.ingress?.socks5);
    }
  }
  const ingress = ingresses[0];
  serveIpc(
    {
      policy: (id) => void policy(id),
      flowCount: () => emu.flows({ limit: 1_000_000 }).length,
    },
    () => emu.stop(),
  );
  process.send?.({ ready: true, apiUrl: emu.apiUrl, token: emu.token, ingress, ingresses, mode: emu.info().interception.mode });
}

/**
 * The embedded test proxy alone, with the blob service in its customer DNS view. `connections`:
 * how many client connections it has accepted (the newest log id: ids count from 1 in a fresh proxy)
 * and, of the newest log entries it keeps (a bounded log), how many are still open, authenticated
 * as the bench user, answered with success and dialled to the blob service.
 */
export async function serveProxy(blobPort) {
  const { createTestProxy } = await import('../../dist/test-proxy/proxy.js');
  const proxy = await createTestProxy({ users: [proxyUser], customerDns: { [`${blobHost}:80`]: `127.0.0.1:${blobPort}` }, directIps: 'loopback' });
  const connections = () => {
    const kept = proxy.connections.list();
    const ok = kept.filter((e) => e.state === 'open' && e.auth === 'accepted' && e.user === proxyUser.username && e.replyCode === 0 && e.upstream === `127.0.0.1:${blobPort}`);
    return { accepted: kept.at(-1)?.id ?? 0, kept: kept.length, keptOpenOk: ok.length };
  };
  serveIpc({ connections }, () => proxy.stop());
  process.send?.({ ready: true, port: proxy.port });
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === '--serve-blob') await serveBlob();
else if (mode === '--serve-relay') await serveRelay(Number(rest[0]), rest[1] === 'single');
else if (mode === '--serve-socks-relay') await serveSocksRelay(Number(rest[0]));
else if (mode === '--serve-proxy') await serveProxy(Number(rest[0]));
else if (mode === '--serve-emulator') await serveEmulator(Number(rest[0]), rest[1] ?? 'explicit', (rest[2] ?? '').split(',').filter(Boolean).map(Number));
