// @ts-check
// The soak (issue 8): mixed allowed / denied / proxied / UDP flows from 4 sandboxes at a bounded rate
// for SEE_SOAK_SECONDS (default 60), with network policy PUTs and credential source rotations during
// it, against the built emulator alone in a child process (bench/lib/soak-emulator.mjs), so its
// descriptors (/proc/<pid>/fd) and memory (VmRSS, after a forced GC) are its own. Used by
// test/integration/soak/soak.test.ts (assertions) and bench/soak.bench.mjs (figures).
//
// Timeline: setup through the API → warm-up load → drain → "before" (fds, resources, RSS) → main load
// → drain → "after" → every audit event read back through GET /_emulator/flows and matched against
// what the driver started. Load alternates quiet phases (no control-plane writes) and update phases
// (a policy PUT every `updateEveryMs`, a credential rotation at most every `rotateEverySeconds`), so
// added latency can be compared with and without policy updates.
//
// Everything is on 127.0.0.1; the 198.18.0.0/15 destinations are data inside the emulator. Every loop
// is bounded in count and time, every flow has a timeout, every child is stopped by its PID.
// Env: SEE_SOAK_SECONDS, SEE_SOAK_RATE (soakOptionsFromEnv); for diagnosis SEE_SOAK_NODE_FLAGS (extra
// node flags for the emulator child, e.g. "--trace-gc" or "--cpu-prof --cpu-prof-dir=/tmp/p"),
// SEE_SOAK_HEAP_SNAPSHOT_DIR (with memEverySeconds: a heap snapshot at each memory sample) and
// SEE_SOAK_CHILD_LOG_LEVEL (default warn).
import dgram from 'node:dgram';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { startIpcChild } from './ipc-child.mjs';

const emulatorScript = fileURLToPath(new URL('./soak-emulator.mjs', import.meta.url));
const serviceScript = fileURLToPath(new URL('./gateway-children.mjs', import.meta.url));
const proberScript = fileURLToPath(new URL('./soak-prober.mjs', import.meta.url));
const caCert = readFileSync(new URL('../../fixtures/ca/ca.crt', import.meta.url));
const quicInitial = Buffer.from(JSON.parse(readFileSync(new URL('../../fixtures/handshakes/rfc-quic-initial-vectors.json', import.meta.url), 'utf8')).v1.packet, 'hex');

// ---- options --------------------------------------------------------------------------------------
/** Options from the environment: SEE_SOAK_SECONDS (60), SEE_SOAK_RATE (75 flows/s). */
export function soakOptionsFromEnv(env = process.env) {
  const seconds = Number(env.SEE_SOAK_SECONDS ?? 60);
  const rate = Number(env.SEE_SOAK_RATE ?? 75);
  if (!(seconds >= 10 && seconds <= 24 * 3600)) throw new Error(`SEE_SOAK_SECONDS must be between 10 and 86400, got ${env.SEE_SOAK_SECONDS}`);
  if (!(rate >= 1 && rate <= 1000)) throw new Error(`SEE_SOAK_RATE must be between 1 and 1000, got ${env.SEE_SOAK_RATE}`);
  return { seconds, rate };
}

const defaults = {
  seconds: 60,
  rate: 75,
  /** Warm-up share of `seconds` (clamped to 5–60 s): first-use costs, JIT, caches. */
  warmupShare: 0.2,
  /** Quiet and update phases alternate, each this long. */
  phaseSeconds: 5,
  /** One policy PUT (round robin over the sandboxes) this often during update phases. */
  updateEveryMs: 200,
  /** A credential rotation at the start of an update phase, at most this often. */
  rotateEverySeconds: 10,
  /** Between pointing the credential source at the new user and removing the old one from the proxy. */
  rotationGraceMs: 2_000,
  maxInFlight: 64,
  flowTimeoutMs: 10_000,
  datagramsPerAssociation: 25,
  /** The longest a drain may wait for the emulator to settle (flows done, descriptors stable). */
  drainMs: 20_000,
  /**
   * The gateway's proxy connect + handshake timeout (default 30 s). The `socks` client never clears
   * its handshake timer, so every proxied flow's client, socket and read buffer stay reachable this
   * long after the flow ended; drains wait it out, so it is kept short here.
   */
  proxyTimeoutMs: 5_000,
  /** The emulator's SQLite page cache (the driver's build default is 16 MB; SQLite's own 2 MB). */
  sqliteCacheKb: 2_000,
  /** Extra node flags for the emulator child (diagnosis, e.g. `--cpu-prof`, `--trace-gc`): env SEE_SOAK_NODE_FLAGS. */
  emulatorNodeFlags: (process.env.SEE_SOAK_NODE_FLAGS ?? '').split(' ').filter(Boolean),
  /** Diagnosis: a forced-GC memory sample every this many seconds under load (0: never; it pauses the emulator). */
  memEverySeconds: 0,
  log: () => {},
};

// ---- the world ------------------------------------------------------------------------------------
const soakHost = 'soak.internal.example.com';
const directHost = 'direct.soak.example.com';
const toggleHost = 'toggle.soak.example.com';
const denyHost = 'deny.soak.example.com';
const apiHost = 'api.internal.example.com';
const identifyHost = 'identify.internal.example.com';
const quicHost = 'example.com'; // the SNI of the RFC 9001 A.2 client Initial
const ip = {
  api: '198.18.0.10',
  identify: '198.18.0.11',
  soak: '198.18.0.30',
  direct: '198.18.0.31',
  toggle: '198.18.0.32',
  deny: '198.18.0.40',
  dns: '198.18.0.53',
  quic: '198.18.0.77',
};
const sourceName = 'soak-src';
/** How long after the sandbox saw a flow end the gateway may still hold it open (and a policy PUT retire it). */
const retireGraceMs = 500;
const credentialRef = 'corp-proxy';
const userFor = (generation) => ({ username: `soak-user-${generation}`, password: `soak-pass-${generation}-${Math.random().toString(36).slice(2, 10)}` });

const proxy = { type: 'socks5', address: 'proxy.example.com:1080', credentialRef };
const bindings = [{ ref: credentialRef, sourceRef: sourceName, projection: { type: 'username_password', usernamePassword: {} } }];
const tcp = (port) => [{ port, protocol: 'tcp' }];

/**
 * The three sandbox roles and their two policy variants. `proxied` flips the `toggle` rule between
 * deny (variant 0) and allow (variant 1); the others alternate with an unrelated rule, so their
 * flows' outcomes never depend on the variant.
 */
const policies = {
  proxied: (variant) => ({
    mode: 'block-all',
    egress: {
      trafficRules: [
        { name: 'allow-api', action: 'allow', domains: [apiHost], ports: tcp(443), appProtocols: ['tls'] },
        { name: 'allow-soak', action: 'allow', domains: [soakHost], ports: tcp(80), appProtocols: ['http'] },
        { name: 'deny-listed', action: 'deny', domains: [denyHost] },
        { name: 'toggle', action: variant === 1 ? 'allow' : 'deny', domains: [toggleHost], ports: tcp(80) },
        { name: 'allow-quic', action: 'allow', domains: [quicHost], ports: [{ port: 443, protocol: 'udp' }] },
      ],
      proxy,
    },
    credentialBindings: bindings,
  }),
  open: (variant) => ({
    mode: 'allow-all',
    egress: {
      trafficRules: [{ name: 'deny-listed', action: 'deny', domains: [denyHost] }, ...(variant === 1 ? [{ name: 'deny-extra', action: 'deny', domains: ['extra.soak.example.com'] }] : [])],
      proxy,
    },
    credentialBindings: bindings,
  }),
  direct: (variant) => ({
    mode: 'block-all',
    egress: {
      trafficRules: [
        { name: 'allow-direct', action: 'allow', domains: [directHost], ports: tcp(80), appProtocols: ['http'] },
        ...(variant === 1 ? [{ name: 'allow-extra', action: 'allow', domains: ['extra.soak.example.com'], ports: tcp(80) }] : []),
      ],
    },
  }),
};
/** The four sandboxes: two block-all behind the proxy, one allow-all behind it, one direct. */
const roles = ['proxied', 'proxied', 'open', 'direct'];

const proxied = (target, rule) => ({ outcome: 'completed', action: 'use-adapter', reason: 'allowed', route: 'proxy', proxy_target: target, proxy_target_atyp: 'domain', matched_rule: rule });
const denied = (reason, rule) => ({ outcome: 'denied', action: 'deny', reason, matched_rule: rule });

/**
 * Flow kinds: how the sandbox opens it (`via`), how the audit names it (`match`), and what each role
 * expects (`expect`: the result event's attributes, `undefined` meaning absent; `observe`: what the
 * program sees: an HTTP 200, a close without a byte, or a datagram sent). `weight` per role.
 */
export const flowKinds = {
  'proxied-http': { via: { socks: soakHost, port: 80, send: 'http', host: soakHost }, match: { transport: 'tcp', ip: ip.soak, port: 80 }, weight: { proxied: 4, open: 4 }, latency: true, expect: { proxied: proxied(`${soakHost}:80`, 'allow-soak'), open: proxied(`${soakHost}:80`, undefined) } },
  'proxied-tls': { via: { socks: apiHost, port: 443, send: 'tls', host: apiHost }, match: { transport: 'tcp', ip: ip.api, port: 443 }, weight: { proxied: 2 }, expect: { proxied: proxied(`${apiHost}:443`, 'allow-api') } },
  'direct-http': { via: { socks: directHost, port: 80, send: 'http', host: directHost }, match: { transport: 'tcp', ip: ip.direct, port: 80 }, weight: { direct: 4 }, expect: { direct: { outcome: 'completed', action: 'use-adapter', reason: 'allowed', route: 'direct', matched_rule: 'allow-direct', proxy_target: undefined } } },
  'denied-default': { via: { socks: identifyHost, port: 80, send: 'http', host: identifyHost }, match: { transport: 'tcp', ip: ip.identify, port: 80 }, weight: { proxied: 1, direct: 1 }, expect: { proxied: denied('l4_denied', undefined), direct: denied('l4_denied', undefined) } },
  'denied-rule': { via: { socks: denyHost, port: 80, send: 'http', host: denyHost }, match: { transport: 'tcp', ip: ip.deny, port: 80 }, weight: { proxied: 1, open: 1 }, expect: { proxied: denied('l4_denied', 'deny-listed'), open: denied('l4_denied', 'deny-listed') } },
  // A ClientHello for the allowed API name sent to another address: the platform's host verification.
  'denied-spoof': { via: { socks: ip.identify, port: 443, send: 'client-hello', host: apiHost }, match: { transport: 'tcp', ip: ip.identify, port: 443 }, weight: { proxied: 1 }, expect: { proxied: denied('host_dest_mismatch', 'allow-api') } },
  toggle: { via: { socks: toggleHost, port: 80, send: 'http', host: toggleHost }, match: { transport: 'tcp', ip: ip.toggle, port: 80 }, weight: { proxied: 1 }, toggled: true, expect: { proxied: [denied('l4_denied', 'toggle'), proxied(`${toggleHost}:80`, 'toggle')] } },
  'udp-quic': { via: { udp: ip.quic, port: 443, send: 'quic' }, match: { transport: 'udp', ip: ip.quic, port: 443 }, weight: { proxied: 1, open: 1 }, expect: { proxied: denied('quic_not_proxied', 'allow-quic'), open: denied('quic_not_proxied', undefined) } },
  'udp-dns': { via: { udp: ip.dns, port: 53, send: 'dns' }, match: { transport: 'udp', ip: ip.dns, port: 53 }, weight: { proxied: 1, open: 1, direct: 1 }, expect: { proxied: denied('l4_denied', undefined), open: denied('udp_not_proxied', undefined), direct: denied('l4_denied', undefined) } },
};
const kindNames = Object.keys(flowKinds);

/**
 * What the audit says of an allowed flow the gateway closed because its sandbox's policy was replaced
 * while it ran (upstream proxy/active_flows.go: flows are bound to the policy that admitted them): a
 * `completed` result whose emulator_note says so, or an `error` at step `policy_retired` when the flow
 * was still dialling. The same wording as src/gateway/flow.ts, checked byte for byte here.
 */
const retiredNote = "closed by the gateway: the sandbox's network policy changed after this flow was admitted";
const retiredError = 'network policy incarnation is no longer active';
const retiredBy = (a) =>
  a.outcome === 'completed' && typeof a.emulator_note === 'string' && a.emulator_note.split('; ').includes(retiredNote)
    ? 'completed'
    : a.outcome === 'error' && a.error_step === 'policy_retired' && a.error === retiredError
      ? 'error'
      : undefined;
const kindOf = (attrs) => kindNames.find((k) => {
  const m = flowKinds[k].match;
  return m.transport === attrs.transport && m.ip === attrs.dest_ip && m.port === attrs.dest_port;
});

/** A smooth weighted round robin over the kinds of a role: a fixed, evenly spread sequence. */
function kindSequence(role) {
  const entries = kindNames.filter((k) => flowKinds[k].weight[role]).map((k) => ({ k, w: flowKinds[k].weight[role], current: 0 }));
  const total = entries.reduce((a, e) => a + e.w, 0);
  return () => {
    for (const e of entries) e.current += e.w;
    const best = entries.reduce((a, e) => (e.current > a.current ? e : a));
    best.current -= total;
    return best.k;
  };
}

// ---- children -------------------------------------------------------------------------------------
/** The soak's children: the IPC protocol of every bench child, answers within 30 s. */
const startChild = (script, args, options = {}) => startIpcChild(script, args, { callTimeoutMs: 30_000, ...options });

/** The emulator's stderr: JSON log lines counted by level; anything else kept as text (a crash's stack). */
function collectLogs(stream) {
  const logs = { errors: [], warnings: 0, warningSamples: [], other: [] };
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      let rec;
      try {
        rec = JSON.parse(line);
      } catch {
        if (logs.other.length < 200) logs.other.push(line);
        continue;
      }
      if (rec.level >= 50) {
        if (logs.errors.length < 50) logs.errors.push(rec);
      } else if (rec.level >= 40) {
        logs.warnings++;
        if (logs.warningSamples.length < 10) logs.warningSamples.push(rec);
      }
    }
  });
  return logs;
}

// ---- the API client -------------------------------------------------------------------------------
/** JSON over node:http with a keep-alive agent that `close()` empties (so drains see no API sockets). */
function apiClient(apiUrl, token) {
  const url = new URL(apiUrl);
  let agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const call = (method, path, body, timeoutMs = 30_000, retried = false) =>
    new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = http.request(
        { host: url.hostname, port: url.port, path, method, agent, timeout: timeoutMs, headers: { authorization: `Bearer ${token}`, ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}) } },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            let json;
            try {
              json = JSON.parse(text);
            } catch {
              return reject(new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 200)}`));
            }
            if (res.statusCode >= 300) return reject(new Error(`${method} ${path}: ${res.statusCode} ${JSON.stringify(json.error ?? json)}`));
            resolve(json.data);
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
      req.on('error', (err) => {
        // A kept-alive connection the server closed just as it was reused (its keepAliveTimeout):
        // the request never reached it, so it is sent again once on a new connection.
        if (req.reusedSocket && err.code === 'ECONNRESET' && !retried) return resolve(call(method, path, body, timeoutMs, true));
        reject(err);
      });
      req.end(data);
    });
  return {
    get: (path) => call('GET', path),
    put: (path, body) => call('PUT', path, body),
    post: (path, body) => call('POST', path, body),
    close() {
      agent.destroy();
      agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    },
  };
}

// ---- descriptors ----------------------------------------------------------------------------------
/** inode → { proto, local port, remote port, state } for every socket of the child's network namespace. */
function socketTable(pid) {
  const table = new Map();
  for (const proto of ['tcp', 'tcp6', 'udp', 'udp6']) {
    let text;
    try {
      text = readFileSync(`/proc/${pid}/net/${proto}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      table.set(f[9], { proto: proto.replace('6', ''), local: parseInt(f[1].split(':')[1], 16), remote: parseInt(f[2].split(':')[1], 16), state: f[3] });
    }
  }
  return table;
}

/**
 * The child's descriptors, by what they are: API, ingress, proxy and service connections, listeners,
 * UDP sockets, files and the rest. `ports` names the well-known local/remote ports.
 */
export function descriptors(pid, ports) {
  const kinds = {};
  const add = (k) => (kinds[k] = (kinds[k] ?? 0) + 1);
  let fds;
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return { count: NaN, kinds };
  }
  const table = socketTable(pid);
  for (const fd of fds) {
    let target;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed while listing
    }
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (!inode) {
      add(target.startsWith('/') ? (/\.db(-wal|-shm)?$/.test(target) ? 'sqlite' : 'file') : target.replace(/:.*$/, ''));
      continue;
    }
    const s = table.get(inode);
    if (!s) add('socket (unix or other)');
    else if (s.proto === 'udp') add(ports.ingressUdp?.has(s.local) ? 'udp association relay' : 'udp');
    else if (s.state === '0A') add('tcp listening');
    else if (s.local === ports.api) add('tcp api connection');
    else if (ports.ingress.has(s.local)) add('tcp ingress connection');
    else if (s.local === ports.proxy) add('tcp proxy (accepted)');
    else if (s.remote === ports.proxy) add('tcp gateway → proxy');
    else if (s.remote === ports.service) add('tcp → service');
    else if (s.state === '06') add('tcp TIME_WAIT (owned)');
    else add(`tcp other (state ${s.state})`);
  }
  return { count: fds.length, kinds };
}

const vmRssKb = (pid) => {
  try {
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
};

// ---- sandbox-side clients ---------------------------------------------------------------------------
const SOCKS = { version: 0x05, noAuth: 0x00, connect: 0x01, udpAssociate: 0x03, ipv4: 0x01, domain: 0x03, ipv6: 0x04, succeeded: 0x00 };

function socksAddress(host, port) {
  const tail = Buffer.alloc(2);
  tail.writeUInt16BE(port);
  if (net.isIPv4(host)) return Buffer.concat([Buffer.from([SOCKS.ipv4, ...host.split('.').map(Number)]), tail]);
  const name = Buffer.from(host);
  return Buffer.concat([Buffer.from([SOCKS.domain, name.length]), name, tail]);
}

/** Length of a SOCKS5 reply in `buf`, or 0 when it is not complete yet (−1: malformed). */
function socksReplyLength(buf) {
  if (buf.length < 5) return 0;
  const addr = buf[3] === SOCKS.ipv4 ? 4 : buf[3] === SOCKS.ipv6 ? 16 : buf[3] === SOCKS.domain ? 1 + buf[4] : -1;
  if (addr < 0) return -1;
  return buf.length >= 6 + addr ? 6 + addr : 0;
}

/**
 * A SOCKS5 request (CONNECT by name or address, or UDP ASSOCIATE) on a new connection to the ingress.
 * Resolves with the socket and the reply once it succeeded; rejects on failure or after `timeoutMs`.
 */
function socksRequest(ingress, command, host, port, timeoutMs) {
  return new Promise((resolve, reject) => {
    const s = net.connect(ingress);
    s.setNoDelay(true);
    let buf = Buffer.alloc(0);
    let step = 'greeting';
    const timer = setTimeout(() => fail(new Error(`SOCKS5 ${step} timed out`)), timeoutMs);
    const fail = (err) => {
      clearTimeout(timer);
      s.destroy();
      reject(err);
    };
    s.on('error', fail);
    s.on('close', () => fail(new Error(`ingress closed during ${step}`)));
    s.once('connect', () => s.write(Buffer.from([SOCKS.version, 1, SOCKS.noAuth])));
    const onData = (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      if (step === 'greeting') {
        if (buf.length < 2) return;
        if (buf[1] !== SOCKS.noAuth) return fail(new Error('ingress refused no-auth'));
        buf = buf.subarray(2);
        step = 'request';
        s.write(Buffer.concat([Buffer.from([SOCKS.version, command, 0]), socksAddress(host, port)]));
      }
      if (step === 'request') {
        const n = socksReplyLength(buf);
        if (n === 0) return;
        if (n < 0) return fail(new Error('malformed SOCKS5 reply'));
        if (buf[1] !== SOCKS.succeeded) return fail(new Error(`SOCKS5 reply 0x${buf[1].toString(16).padStart(2, '0')}`));
        clearTimeout(timer);
        s.off('data', onData);
        s.removeAllListeners('error');
        s.removeAllListeners('close');
        const reply = buf.subarray(0, n);
        if (buf.length > n) s.unshift(buf.subarray(n));
        const bound = reply[3] === SOCKS.ipv4 ? { host: [...reply.subarray(4, 8)].join('.'), port: reply.readUInt16BE(8) } : undefined;
        resolve({ socket: s, bound });
      }
    };
    s.on('data', onData);
  });
}

/** A real TLS ClientHello for `servername` (Node's TLS client over an in-memory stream). */
function clientHello(servername) {
  return new Promise((resolve, reject) => {
    let client;
    const timer = setTimeout(() => reject(new Error('no ClientHello produced')), 5_000);
    const duplex = new Duplex({
      read() {},
      write(chunk, _enc, cb) {
        clearTimeout(timer);
        resolve(Buffer.from(chunk));
        cb();
        setImmediate(() => client?.destroy());
      },
    });
    client = tls.connect({ socket: duplex, servername });
    client.on('error', () => {});
  });
}

/** A DNS query (A, recursion desired) for `name`. */
function dnsQuery(name, id) {
  const labels = name.split('.').flatMap((l) => [l.length, ...Buffer.from(l)]);
  return Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, ...labels, 0, 0, 1, 0, 1]);
}

const httpRequest = (host, path) => `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: see-soak\r\nConnection: close\r\n\r\n`;
const isOk = (text) => /^HTTP\/1\.1 200 /.test(text);

/**
 * One TCP flow from a sandbox through its SOCKS5 ingress. `started`: the ingress accepted the
 * CONNECT, so the gateway has a flow (and owes it one audit result). `observed`: `ok` (an HTTP 200),
 * `empty` (closed without a byte: what a denied or failed flow looks like) or `error` (anything else).
 */
export async function tcpFlow(ingress, via, { timeoutMs, hello }) {
  const t0 = performance.now();
  let conn;
  try {
    conn = await socksRequest(ingress, SOCKS.connect, via.socks, via.port, timeoutMs);
  } catch (err) {
    return { started: false, observed: 'error', detail: `ingress: ${err.message}` };
  }
  const s = conn.socket;
  return new Promise((resolve) => {
    let bytes = 0;
    let text = '';
    let firstByteMs;
    let errorCode;
    let done = false;
    const finish = (observed, detail) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ started: true, observed, detail, latencyMs: firstByteMs });
    };
    const timer = setTimeout(() => finish('error', `no end within ${timeoutMs} ms (${bytes} bytes)`), timeoutMs);
    const onData = (d) => {
      if (bytes === 0) firstByteMs = performance.now() - t0;
      bytes += d.length;
      if (text.length < 4096) text += d.toString('latin1');
    };
    const onClose = () => {
      if (bytes === 0) return finish('empty', errorCode);
      if (isOk(text)) return finish(text.endsWith('\r\n\r\nok') || via.send === 'tls' ? 'ok' : 'error', `body ${JSON.stringify(text.slice(-40))}`);
      finish('error', `answer ${JSON.stringify(text.slice(0, 80))}`);
    };
    if (via.send === 'tls') {
      const t = tls.connect({ socket: s, servername: via.host, ca: caCert });
      t.on('secureConnect', () => t.write(httpRequest(via.host, '/soak')));
      t.on('data', onData);
      t.on('error', (e) => (errorCode ??= e.code ?? e.message));
      t.on('close', onClose);
      return;
    }
    s.on('data', onData);
    s.on('error', (e) => (errorCode ??= e.code ?? e.message));
    s.on('close', onClose);
    s.write(via.send === 'client-hello' ? hello : httpRequest(via.host, '/tiny'));
  });
}

/** A direct loopback GET /tiny to the service: the latency baseline (no sandbox, no emulator). */
export function baselineFlow(port, timeoutMs) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const s = net.connect({ host: '127.0.0.1', port });
    s.setNoDelay(true);
    let firstByteMs;
    let text = '';
    const timer = setTimeout(() => s.destroy(), timeoutMs);
    s.on('connect', () => s.write(httpRequest(soakHost, '/tiny')));
    s.on('data', (d) => {
      firstByteMs ??= performance.now() - t0;
      text += d.toString('latin1');
    });
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve(isOk(text) ? firstByteMs : undefined);
    });
  });
}

/**
 * A sandbox's UDP ASSOCIATE through its ingress: a control connection and a client socket. Rotated
 * every `perAssociation` datagrams; an old association is closed after a grace period, so datagrams
 * already sent are read by the emulator before its relay socket goes away.
 */
function udpSender(ingress, { perAssociation, timeoutMs, timers }) {
  let current;
  let sentOnCurrent = 0;
  const all = new Set();
  const open = async () => {
    const { socket: control, bound } = await socksRequest(ingress, SOCKS.udpAssociate, '0.0.0.0', 0, timeoutMs);
    control.on('error', () => {});
    const client = dgram.createSocket('udp4');
    client.on('error', () => {});
    await new Promise((resolve, reject) => {
      client.once('error', reject);
      client.bind(0, '127.0.0.1', () => {
        client.off('error', reject);
        resolve();
      });
    });
    const a = { control, client, relay: bound };
    all.add(a);
    return a;
  };
  const close = (a) => {
    all.delete(a);
    a.control.destroy();
    try {
      a.client.close();
    } catch {
      // already closed
    }
  };
  return {
    async send(dst, port, payload) {
      if (!current || sentOnCurrent >= perAssociation) {
        const old = current;
        current = open();
        sentOnCurrent = 0;
        if (old) {
          const t = setTimeout(() => {
            timers.delete(t);
            void old.then(close, () => {});
          }, 1_000);
          timers.add(t);
        }
      }
      sentOnCurrent++;
      let a;
      try {
        a = await current;
      } catch (err) {
        current = undefined;
        return { started: false, observed: 'error', detail: `associate: ${err.message}` };
      }
      const datagram = Buffer.concat([Buffer.from([0, 0, 0]), socksAddress(dst, port), payload]);
      return new Promise((resolve) =>
        a.client.send(datagram, a.relay.port, a.relay.host, (err) => resolve(err ? { started: false, observed: 'error', detail: `send: ${err.message}` } : { started: true, observed: 'sent' })),
      );
    },
    /** Closes every association (after the grace period, so the last datagrams are read). */
    async closeAll() {
      const pending = current;
      current = undefined;
      await pending?.catch(() => {});
      await new Promise((r) => setTimeout(r, 1_000));
      for (const a of [...all]) close(a);
    },
  };
}

// ---- statistics -----------------------------------------------------------------------------------
const sortedCopy = (xs) => [...xs].sort((a, b) => a - b);
export const percentile = (xs, p) => (xs.length ? sortedCopy(xs)[Math.min(xs.length - 1, Math.floor(xs.length * p))] : NaN);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- the run --------------------------------------------------------------------------------------
/**
 * Runs the whole soak and returns its report; never throws for what it measures (crashes, leaks,
 * audit mismatches are in the report), only for a setup that could not be made.
 */
export async function runSoak(options = {}) {
  const o = { ...defaults, ...options };
  const warmupSeconds = Math.max(5, Math.min(60, Math.round(o.seconds * o.warmupShare)));
  const mainSeconds = o.seconds - warmupSeconds;
  if (mainSeconds < 5) throw new Error(`soak of ${o.seconds} s leaves no main period after a ${warmupSeconds} s warm-up`);
  const log = o.log;
  const problems = [];
  const problem = (p) => {
    if (problems.length < 200) problems.push(p);
  };
  const children = [];
  const timers = new Set();
  const report = { options: { seconds: o.seconds, rate: o.rate, warmupSeconds, mainSeconds, phaseSeconds: o.phaseSeconds, updateEveryMs: o.updateEveryMs, rotateEverySeconds: o.rotateEverySeconds, proxyTimeoutMs: o.proxyTimeoutMs, sqliteCacheKb: o.sqliteCacheKb }, problems };

  try {
    // -- setup: the service, the emulator, the world through the API.
    const service = await startChild(serviceScript, ['--serve-blob']);
    children.push(service);
    const initialUser = userFor(0);
    const token = `soak-${Math.random().toString(36).slice(2)}`;
    let crashed;
    const emulator = await startChild(emulatorScript, [JSON.stringify({ token, ...initialUser, proxyTimeoutMs: o.proxyTimeoutMs, sqliteCacheKb: o.sqliteCacheKb })], {
      nodeFlags: ['--expose-gc', ...o.emulatorNodeFlags],
      stderr: 'pipe',
      onExit: (e) => (crashed ??= e),
    });
    children.push(emulator);
    const prober = await startChild(proberScript, []);
    children.push(prober);
    const logs = collectLogs(emulator.child.stderr);
    report.child = { pid: emulator.pid, logs };
    const api = apiClient(emulator.info.apiUrl, token);
    const apiPort = Number(new URL(emulator.info.apiUrl).port);

    const platform = await api.get('/_emulator/dns/platform');
    await api.put('/_emulator/dns/platform', {
      records: {
        ...platform.records,
        [soakHost]: [ip.soak],
        [toggleHost]: [ip.toggle],
        [denyHost]: [ip.deny],
        [directHost]: [ip.direct],
        [quicHost]: [ip.quic],
        // Direct egress only reaches mapped platform endpoints: the direct host's is the service.
        [`${ip.direct}:80`]: [`127.0.0.1:${service.info.port}`],
      },
    });
    const customer = await api.get('/_emulator/dns/customer');
    const servicePort = service.info.port;
    await api.put('/_emulator/dns/customer', { records: { ...customer.records, [`${soakHost}:80`]: `127.0.0.1:${servicePort}`, [`${toggleHost}:80`]: `127.0.0.1:${servicePort}` } });
    await api.post('/api/v1/credential-sources', { name: sourceName, resolverKind: 'static_username_password', spec: { staticUsernamePassword: initialUser } });
    const sandboxes = [];
    for (const [i, role] of roles.entries()) {
      const id = (await api.post('/api/v1/sandboxes', { template: 'default' })).sandbox_id;
      await api.put(`/api/v1/sandboxes/${id}/network`, policies[role](0));
      const view = await api.get(`/_emulator/sandboxes/${id}`);
      const [h, p] = [view.ingress.socks5.slice(0, view.ingress.socks5.lastIndexOf(':')), Number(view.ingress.socks5.slice(view.ingress.socks5.lastIndexOf(':') + 1))];
      sandboxes.push({
        index: i,
        id,
        role,
        ingress: { host: h, port: p },
        nextKind: kindSequence(role),
        policy: { epoch: 0, variant: 0, unknown: false },
        recentEnds: [],
        udp: udpSender({ host: h, port: p }, { perAssociation: o.datagramsPerAssociation, timeoutMs: o.flowTimeoutMs, timers }),
        kinds: Object.fromEntries(kindNames.filter((k) => flowKinds[k].weight[role]).map((k) => [k, { started: 0, notStarted: 0, observed: {}, toggleChecked: 0, policyChangedDuring: 0, cutByPolicyChange: 0 }])),
      });
    }
    const ports = { api: apiPort, proxy: emulator.info.testProxyPort, service: servicePort, ingress: new Set(sandboxes.map((s) => s.ingress.port)) };
    report.sandboxes = sandboxes.map((s) => ({ id: s.id, role: s.role }));
    const hello = await clientHello(apiHost);
    const dnsPayload = dnsQuery(apiHost, 0x5eed);
    log(`soak: emulator pid ${emulator.pid}, ${sandboxes.length} sandboxes, ${o.rate} flows/s, ${warmupSeconds} s warm-up + ${mainSeconds} s`);

    // -- the load.
    const latency = { chain: { quiet: [], updates: [] }, baseline: { quiet: [], updates: [] } };
    const control = { policyPuts: 0, policyPutFailures: 0, policyPutMs: [], rotations: 0, rotationFailures: 0 };
    const load = { flowsStarted: 0, lagged: 0, maxInFlight: 0, seconds: 0 };
    let generation = 0;
    let currentUser = initialUser;
    const rssSamples = [];
    const loopDelay = { quiet: [], updates: [] };
    const clientLoopDelay = { quiet: [], updates: [] };
    const clientLoop = monitorEventLoopDelay({ resolution: 10 });
    clientLoop.enable();
    const clientLateness = () => {
      const late = (ns) => Math.max(0, ns / 1e6 - 10);
      const r = { p50: late(clientLoop.percentile(50)), p99: late(clientLoop.percentile(99)), max: late(clientLoop.max), samples: clientLoop.count };
      clientLoop.reset();
      return r;
    };

    const runFlow = async (sb, kindName, stage, phaseAt) => {
      const kind = flowKinds[kindName];
      const stats = sb.kinds[kindName];
      const epoch0 = sb.policy.epoch;
      const variant0 = sb.policy.variant;
      const phase = phaseAt();
      let r;
      if (kind.via.udp) r = await sb.udp.send(kind.via.udp, kind.via.port, kind.via.send === 'quic' ? quicInitial : dnsPayload);
      else {
        let b;
        if (kind.latency && stage === 'main') {
          // Timed in the prober process, away from this process's own stalls.
          const p = await prober.call('probe', { ingress: sb.ingress, via: kind.via, servicePort, timeoutMs: o.flowTimeoutMs }, o.flowTimeoutMs * 2 + 5_000);
          r = p.flow;
          b = p.baselineMs ?? undefined;
        } else r = await tcpFlow(sb.ingress, kind.via, { timeoutMs: o.flowTimeoutMs, hello });
        if (kind.latency && stage === 'main' && r.observed === 'ok' && b !== undefined && phaseAt() === phase) {
          latency.chain[phase].push(r.latencyMs);
          latency.baseline[phase].push(b);
        }
      }
      if (!r.started) {
        stats.notStarted++;
        problem(`sandbox ${sb.index} (${sb.role}) ${kindName}: not started: ${r.detail}`);
        return;
      }
      stats.started++;
      stats.observed[r.observed] = (stats.observed[r.observed] ?? 0) + 1;
      const allowedNow = (variant) => (kind.toggled ? variant === 1 : flowKinds[kindName].expect[sb.role].outcome === 'completed');
      const expectedObservation = (variant) => (kind.via.udp ? 'sent' : allowedNow(variant) ? 'ok' : 'empty');
      // A policy PUT for this sandbox was under way at some point of the flow: the gateway may have
      // closed it (an allowed flow is closed when the policy that admitted it is replaced).
      const policyChanged = !(epoch0 === sb.policy.epoch && epoch0 % 2 === 0);
      if (policyChanged && !kind.via.udp) stats.policyChangedDuring++;
      // A flow the sandbox saw end may still be open in the gateway (it has not read the close yet):
      // a PUT that begins within the grace window can still retire it (putPolicy counts it then).
      else if (!kind.via.udp) {
        const at = performance.now();
        while (sb.recentEnds.length && at - sb.recentEnds[0].at > retireGraceMs) sb.recentEnds.shift();
        sb.recentEnds.push({ stats, at });
      }
      if (kind.toggled) {
        // Only a flow that began and ended inside one settled policy version has a known verdict.
        const settled = !policyChanged && !sb.policy.unknown;
        if (settled) {
          stats.toggleChecked++;
          if (r.observed !== expectedObservation(variant0)) problem(`sandbox ${sb.index} toggle: policy variant ${variant0} was in force for the whole flow, the sandbox saw ${r.observed} (${r.detail ?? ''})`);
        } else if (r.observed === 'error') problem(`sandbox ${sb.index} toggle: ${r.detail}`);
      } else if (policyChanged && expectedObservation() === 'ok' && r.observed === 'empty') {
        // Closed without a byte while its policy was replaced: the audit must say so (verifyAudit counts).
        stats.cutByPolicyChange++;
      } else if (r.observed !== expectedObservation()) problem(`sandbox ${sb.index} (${sb.role}) ${kindName}: the sandbox saw ${r.observed}, expected ${expectedObservation()} (${r.detail ?? ''})`);
    };

    const putPolicy = async (sb) => {
      const next = 1 - sb.policy.variant;
      sb.policy.epoch++;
      const t = performance.now();
      for (const end of sb.recentEnds) if (t - end.at <= retireGraceMs) end.stats.policyChangedDuring++;
      sb.recentEnds = [];
      try {
        await api.put(`/api/v1/sandboxes/${sb.id}/network`, policies[sb.role](next));
        sb.policy.variant = next;
        control.policyPuts++;
        control.policyPutMs.push(performance.now() - t);
      } catch (err) {
        sb.policy.unknown = true;
        control.policyPutFailures++;
        problem(`policy PUT for sandbox ${sb.index}: ${err.message}`);
      } finally {
        sb.policy.epoch++;
      }
    };

    const rotate = async () => {
      const next = userFor(++generation);
      try {
        // The proxy knows both users while the source moves to the new one, then only the new one.
        await api.put('/_emulator/proxy/users', { users: [currentUser, next] });
        await api.put(`/api/v1/credential-sources/${sourceName}`, { name: sourceName, resolverKind: 'static_username_password', spec: { staticUsernamePassword: next } });
        currentUser = next;
        await sleep(o.rotationGraceMs);
        await api.put('/_emulator/proxy/users', { users: [next] });
        control.rotations++;
      } catch (err) {
        control.rotationFailures++;
        problem(`credential rotation ${generation}: ${err.message}`);
      }
    };

    /** One stage of load: flows at `rate`, phases alternating, updates and rotations in update phases. */
    const runStage = async (stage, seconds) => {
      const t0 = performance.now();
      const deadline = t0 + seconds * 1000;
      const phaseAt = () => (Math.floor((performance.now() - t0) / (o.phaseSeconds * 1000)) % 2 === 0 ? 'quiet' : 'updates');
      const inFlight = new Set();
      let started = 0;
      let turn = 0;
      const maxFlows = Math.ceil(seconds * o.rate);
      const flows = (async () => {
        for (let tick = 0; tick < seconds * 100 + 100 && performance.now() < deadline && started < maxFlows; tick++) {
          if (crashed) break;
          const due = Math.min(maxFlows, Math.floor(((performance.now() - t0) / 1000) * o.rate));
          if (due - started > o.maxInFlight) load.lagged++;
          while (started < due && inFlight.size < o.maxInFlight) {
            const sb = sandboxes[turn++ % sandboxes.length];
            const p = runFlow(sb, sb.nextKind(), stage, phaseAt).catch((err) => problem(`flow runner: ${err.stack ?? err}`));
            inFlight.add(p);
            void p.finally(() => inFlight.delete(p));
            started++;
          }
          load.maxInFlight = Math.max(load.maxInFlight, inFlight.size);
          await sleep(10);
        }
        await Promise.all(inFlight);
      })();
      const updates = (async () => {
        let lastRotation = -Infinity;
        let rotation;
        let next = 0;
        // Bounded by time and by count: one iteration per PUT or per 50 ms of waiting for a phase.
        const maxIterations = Math.ceil((seconds * 1000) / Math.min(50, o.updateEveryMs)) + 10;
        for (let i = 0; i < maxIterations && performance.now() < deadline && !crashed; i++) {
          if (phaseAt() !== 'updates') {
            await sleep(Math.max(0, Math.min(50, deadline - performance.now())));
            continue;
          }
          // A rotation only when it can finish (and be used) before the stage ends.
          if (!rotation && performance.now() - lastRotation >= o.rotateEverySeconds * 1000 && deadline - performance.now() > o.rotationGraceMs + 1000) {
            lastRotation = performance.now();
            rotation = rotate().finally(() => (rotation = undefined));
          }
          const tick = performance.now();
          await putPolicy(sandboxes[next++ % sandboxes.length]);
          await sleep(Math.max(0, o.updateEveryMs - (performance.now() - tick)));
        }
        await rotation;
      })();
      // The emulator's event-loop delay per phase (main stage): is a slow flow the emulator's doing?
      const loopWatch = (async () => {
        if (stage !== 'main') return;
        await emulator.call('loop-delay').catch(() => {});
        let phase = phaseAt();
        for (let i = 0; i < (seconds * 1000) / 50 + 10 && performance.now() < deadline && !crashed; i++) {
          await sleep(Math.max(0, Math.min(50, deadline - performance.now())));
          const now = phaseAt();
          if (now === phase && performance.now() < deadline) continue;
          const d = await emulator.call('loop-delay').catch(() => undefined);
          if (d) loopDelay[phase].push(d);
          // The soak's own event loop times every flow: a late client inflates the chain's latency
          // (several round trips) more than the direct baseline's (one).
          clientLoopDelay[phase].push(clientLateness());
          phase = now;
        }
      })();
      const sampler = (async () => {
        for (let i = 0; i < seconds + 2 && performance.now() < deadline && !crashed; i++) {
          const sample = { stage, t: Math.round(performance.now() - t0), rssKb: vmRssKb(emulator.pid), fds: descriptors(emulator.pid, ports).count };
          // Diagnosis only (a forced GC pauses the emulator): the retained heap over time.
          if (o.memEverySeconds > 0 && i > 0 && i % o.memEverySeconds === 0) {
            const m = await emulator.call('mem');
            if (process.env.SEE_SOAK_HEAP_SNAPSHOT_DIR) sample.snapshot = await emulator.call('heap-snapshot', undefined, 60_000);
            Object.assign(sample, { gcRssKb: m.rssKb, heapUsedKb: m.heapUsedKb, externalKb: m.externalKb });
          }
          rssSamples.push(sample);
          await sleep(Math.min(1000, Math.max(0, deadline - performance.now())));
        }
      })();
      await Promise.all([flows, updates, sampler, loopWatch]);
      load.flowsStarted += started;
      load.seconds += (performance.now() - t0) / 1000;
    };

    /**
     * Waits (bounded) until the emulator has no flow in progress and its descriptor count is stable,
     * and at least until the last proxied flow's handshake timer has expired (see proxyTimeoutMs).
     */
    const drain = async () => {
      const loadEnded = performance.now();
      await Promise.all(sandboxes.map((s) => s.udp.closeAll()));
      api.close();
      const earliest = loadEnded + o.proxyTimeoutMs + 500;
      const deadline = Math.max(earliest, performance.now() + o.drainMs);
      let last = NaN;
      let stable = 0;
      let state;
      for (let i = 0; i < (deadline - loadEnded) / 100 && performance.now() < deadline && !crashed; i++) {
        state = await emulator.call('state');
        const fds = descriptors(emulator.pid, ports).count;
        stable = fds === last && state.activeFlows === 0 ? stable + 1 : 0;
        last = fds;
        if (stable >= 10 && performance.now() >= earliest) return { settled: true, ms: Math.round(performance.now() - loadEnded), state };
        await sleep(100);
      }
      return { settled: false, state };
    };

    /**
     * The drained state: descriptors, and memory as the lowest of forced-GC samples 500 ms apart, taken
     * until two in a row agree within 1 MB (at most 8): pages freed by a GC are handed back to the
     * system a while later, so the first sample after a GC can be tens of MB above the floor.
     */
    const measure = async (drained) => {
      let mem;
      const samples = [];
      for (let i = 0; i < 8; i++) {
        if (i) await sleep(500);
        const m = await emulator.call('mem');
        samples.push(m.rssKb);
        if (!mem || m.rssKb < mem.rssKb) mem = m;
        if (i >= 2 && Math.abs(samples[i] - samples[i - 1]) < 1024) break;
      }
      const d = descriptors(emulator.pid, ports);
      // What the process keeps, without the heap pages V8 has committed but holds free: how many of
      // those there are depends on when V8 last shrank its heap, not on what the emulator retains.
      const inUseKb = mem.rssKb - (mem.heapTotalKb - mem.heapUsedKb);
      return { drained, fds: d.count, fdKinds: d.kinds, ...mem, inUseKb, rssSamplesKb: samples };
    };

    await runStage('warmup', warmupSeconds);
    report.before = crashed ? undefined : await measure(await drain());
    log(`soak: warm-up done: ${load.flowsStarted} flows; before: ${report.before?.fds} fds, RSS ${Math.round((report.before?.rssKb ?? NaN) / 1024)} MB`);
    if (!crashed) await runStage('main', mainSeconds);
    report.after = crashed ? undefined : await measure(await drain());
    log(`soak: load done: ${load.flowsStarted} flows; after: ${report.after?.fds} fds, RSS ${Math.round((report.after?.rssKb ?? NaN) / 1024)} MB`);
    report.load = load;
    report.control = control;
    report.latency = latency;
    report.loopDelay = loopDelay;
    report.clientLoopDelay = clientLoopDelay;
    clientLoop.disable();
    report.rssSamples = rssSamples;
    report.flows = sandboxes.map((s) => ({ index: s.index, role: s.role, kinds: s.kinds }));

    // -- the audit, read back through the API, matched against what was started.
    if (!crashed) {
      report.audit = await verifyAudit(api, sandboxes);
      report.proxyConnections = await proxyLog(api, currentUser.username);
    }
    report.child.aliveAfterLoad = !crashed;
    api.close();
  } catch (err) {
    problem(`soak aborted: ${err.stack ?? err}`);
  } finally {
    for (const t of timers) clearTimeout(t);
    const exits = [];
    for (const c of [...children].reverse()) exits.unshift(await c.stop().catch((e) => ({ error: e.message })));
    if (report.child) report.child.exit = exits[1] ?? children[1]?.exit();
  }
  return report;
}

/** Pages through GET /_emulator/flows (bounded) and checks every flow against the driver's ledger. */
async function verifyAudit(api, sandboxes) {
  const events = [];
  let cursor;
  for (let page = 0; page < 1_000; page++) {
    const data = await api.get(`/_emulator/flows?limit=10000${cursor ? `&cursor=${cursor}` : ''}`);
    events.push(...data.events);
    if (!data.next_cursor) break;
    cursor = data.next_cursor;
  }
  const problems = [];
  const problem = (p) => {
    if (problems.length < 200) problems.push(p);
  };
  const bySandbox = new Map(sandboxes.map((s) => [s.id, s]));
  const flows = new Map();
  for (const e of events) {
    const a = e.attributes;
    let f = flows.get(a.flow_id);
    if (!f) flows.set(a.flow_id, (f = { attempts: [], results: [] }));
    (e.phase === 'result' ? f.results : f.attempts).push(e);
  }
  const audited = new Map(sandboxes.map((s) => [s.id, Object.fromEntries(Object.keys(s.kinds).map((k) => [k, { results: 0, outcomes: {}, retired: {} }]))]));
  const ids = { tcp: [], udp: [] };
  for (const [flowId, f] of flows) {
    const m = /^(tcp|udp)-(\d+)$/.exec(flowId);
    if (!m) {
      problem(`flow ${flowId}: not a gateway flow id (${f.results[0]?.attributes.reason ?? f.attempts[0]?.attributes.reason})`);
      continue;
    }
    ids[m[1]].push(Number(m[2]));
    if (f.results.length !== 1) {
      problem(`flow ${flowId}: ${f.results.length} result events (${f.attempts.length} attempts)`);
      if (f.results.length === 0) continue;
    }
    const r = f.results[0];
    const a = r.attributes;
    const sb = bySandbox.get(r.sandbox_id);
    if (!sb) {
      problem(`flow ${flowId}: sandbox ${r.sandbox_id} is not one of the soak's`);
      continue;
    }
    if ([...f.attempts, ...f.results].some((e) => e.sandbox_id !== r.sandbox_id)) problem(`flow ${flowId}: events of more than one sandbox`);
    const kind = kindOf(a);
    if (!kind || !sb.kinds[kind]) {
      problem(`flow ${flowId}: sandbox ${sb.index} (${sb.role}) did not start a flow to ${a.transport} ${a.dest_ip}:${a.dest_port} (${a.outcome} ${a.reason})`);
      continue;
    }
    const tally = audited.get(sb.id)[kind];
    tally.results++;
    tally.outcomes[a.outcome] = (tally.outcomes[a.outcome] ?? 0) + 1;
    const expected = flowKinds[kind].expect[sb.role];
    let candidates = Array.isArray(expected) ? expected : [expected];
    const retired = retiredBy(a);
    if (retired) {
      // Closed by a policy change: an allowed flow of its kind in every attribute but (when it was
      // still dialling) the outcome. A kind that is never allowed has no such candidate.
      tally.retired[retired] = (tally.retired[retired] ?? 0) + 1;
      candidates = candidates.filter((c) => c.outcome === 'completed').map((c) => ({ ...c, outcome: retired }));
      if (!candidates.length) {
        problem(`flow ${flowId} sandbox ${sb.index} (${sb.role}) ${kind}: closed by a policy change, but this kind is never allowed (${a.action} ${a.outcome} ${a.reason})`);
        continue;
      }
    }
    const mismatch = (exp) => Object.entries(exp).filter(([k, v]) => a[k] !== v).map(([k, v]) => `${k}=${JSON.stringify(a[k])} (expected ${JSON.stringify(v)})`);
    const best = candidates.map(mismatch).sort((x, y) => x.length - y.length)[0];
    if (best.length) problem(`flow ${flowId} sandbox ${sb.index} (${sb.role}) ${kind}: ${best.join(', ')}${a.error ? `; error_step ${a.error_step}: ${a.error}` : ''}`);
    const allowed = a.action !== 'deny';
    if (allowed !== (f.attempts.length === 1) || f.attempts.length > 1) problem(`flow ${flowId} (${a.action} ${a.outcome}): ${f.attempts.length} attempt events`);
    for (const at of f.attempts) {
      if (at.attributes.outcome !== 'accepted' || at.attributes.route !== a.route || at.attributes.proxy_target !== a.proxy_target) problem(`flow ${flowId}: attempt ${JSON.stringify({ outcome: at.attributes.outcome, route: at.attributes.route, proxy_target: at.attributes.proxy_target })} does not match its result`);
    }
  }
  // Flow ids are handed out when the gateway starts a flow: a gap is a flow without any event.
  for (const [t, list] of Object.entries(ids)) {
    const max = list.length ? Math.max(...list) : 0;
    if (list.length !== max) problem(`${t} flow ids: ${list.length} flows with events, but ids go up to ${t}-${max} (${max - list.length} flows without an event)`);
  }
  // Every flow the driver started has exactly one result of its kind; what the sandbox saw agrees.
  const byKind = [];
  for (const sb of sandboxes) {
    for (const [kind, stats] of Object.entries(sb.kinds)) {
      const tally = audited.get(sb.id)[kind];
      const retired = (tally.retired.completed ?? 0) + (tally.retired.error ?? 0);
      byKind.push({
        sandbox: sb.index,
        role: sb.role,
        kind,
        started: stats.started,
        observed: stats.observed,
        results: tally.results,
        outcomes: tally.outcomes,
        retired: tally.retired,
        policyChangedDuring: stats.policyChangedDuring,
        cutByPolicyChange: stats.cutByPolicyChange,
        toggleChecked: stats.toggleChecked,
      });
      if (tally.results !== stats.started) problem(`sandbox ${sb.index} (${sb.role}) ${kind}: the driver started ${stats.started} flows, the audit has ${tally.results} results`);
      if (!flowKinds[kind].via.udp) {
        // Each flow the gateway closed for a policy change was seen by the sandbox as an answer (it
        // had arrived) or as a close without a byte; every other completed flow was an answer.
        const ok = stats.observed.ok ?? 0;
        const kept = (tally.outcomes.completed ?? 0) - (tally.retired.completed ?? 0);
        if (ok < kept || ok > kept + retired) problem(`sandbox ${sb.index} (${sb.role}) ${kind}: the sandbox got ${ok} answers, the audit has ${kept} completed flows and ${retired} closed by a policy change`);
        if (stats.cutByPolicyChange > retired) problem(`sandbox ${sb.index} (${sb.role}) ${kind}: ${stats.cutByPolicyChange} flows ended without an answer during a policy change, the audit has ${retired} closed by one`);
        if (retired > stats.policyChangedDuring) problem(`sandbox ${sb.index} (${sb.role}) ${kind}: the audit has ${retired} flows closed by a policy change, but only ${stats.policyChangedDuring} ran while one was applied or ended within ${retireGraceMs} ms before one began`);
      }
    }
  }
  const phases = events.reduce((acc, e) => ((acc[e.phase] = (acc[e.phase] ?? 0) + 1), acc), {});
  return { events: events.length, attempts: phases.attempt ?? 0, results: phases.result ?? 0, tcpFlows: ids.tcp.length, udpFlows: ids.udp.length, byKind, problems };
}

/** What the test proxy saw (its bounded log): users, address types, rejected authentications. */
async function proxyLog(api, currentUsername) {
  const { connections } = await api.get('/_emulator/proxy/connections?limit=1000');
  const count = (f) => connections.filter(f).length;
  return {
    entries: connections.length,
    domainAtyp: count((c) => c.atyp === 'domain'),
    otherAtyp: count((c) => c.atyp !== undefined && c.atyp !== 'domain'),
    authRejected: count((c) => c.auth === 'rejected'),
    users: [...new Set(connections.map((c) => c.user).filter(Boolean))],
    lastUser: connections.at(-1)?.user,
    currentUser: currentUsername,
  };
}

// ---- summaries ------------------------------------------------------------------------------------
/** Latency figures per phase: chain and baseline p50/p99 and their differences (added latency). */
export function latencySummary(report) {
  const out = {};
  for (const phase of ['quiet', 'updates']) {
    const chain = report.latency?.chain[phase] ?? [];
    const base = report.latency?.baseline[phase] ?? [];
    out[phase] = {
      samples: chain.length,
      chainP50: percentile(chain, 0.5),
      chainP99: percentile(chain, 0.99),
      baselineP50: percentile(base, 0.5),
      baselineP99: percentile(base, 0.99),
      addedP50: percentile(chain, 0.5) - percentile(base, 0.5),
      addedP99: percentile(chain, 0.99) - percentile(base, 0.99),
    };
  }
  return out;
}

/**
 * RSS growth from the drained state after the warm-up to the drained state after the load, both after
 * a forced GC, not counting free committed V8 heap pages (`inUseKb`); `raw` compares VmRSS itself.
 */
export function rssGrowth(report, { raw = false } = {}) {
  if (!report.before || !report.after) return NaN;
  const kb = (m) => (raw ? m.rssKb : m.inUseKb);
  return (kb(report.after) - kb(report.before)) / kb(report.before);
}

/** Human-readable lines for a report (the bench prints them; the test logs them). */
export function describeReport(report) {
  const lines = [];
  const mb = (kb) => `${(kb / 1024).toFixed(1)} MB`;
  const ms = (x) => `${x.toFixed(2)} ms`;
  const { options: op } = report;
  lines.push(`soak: ${op.seconds} s (${op.warmupSeconds} s warm-up), ${op.rate} flows/s target, phases of ${op.phaseSeconds} s, a policy PUT every ${op.updateEveryMs} ms and a rotation every ≥ ${op.rotateEverySeconds} s in update phases`);
  if (report.load) lines.push(`load: ${report.load.flowsStarted} flows in ${report.load.seconds.toFixed(1)} s (${(report.load.flowsStarted / report.load.seconds).toFixed(1)}/s), max ${report.load.maxInFlight} in flight, lagged ticks ${report.load.lagged}`);
  if (report.control) lines.push(`control plane: ${report.control.policyPuts} policy PUTs (p50 ${ms(percentile(report.control.policyPutMs, 0.5))}, p99 ${ms(percentile(report.control.policyPutMs, 0.99))}; ${report.control.policyPutFailures} failed), ${report.control.rotations} credential rotations (${report.control.rotationFailures} failed)`);
  for (const f of report.audit?.byKind ?? []) lines.push(`  sandbox ${f.sandbox} ${f.role.padEnd(7)} ${f.kind.padEnd(15)} started ${String(f.started).padStart(5)}  sandbox saw ${JSON.stringify(f.observed)}  audit ${f.results} results ${JSON.stringify(f.outcomes)}${f.retired && Object.keys(f.retired).length ? `, closed by a policy change ${JSON.stringify(f.retired)} (sandbox saw ${f.cutByPolicyChange} cut of ${f.policyChangedDuring} during a PUT)` : ''}${f.kind === 'toggle' ? `  (${f.toggleChecked} with a settled policy checked)` : ''}`);
  if (report.audit) lines.push(`audit: ${report.audit.events} events (${report.audit.attempts} attempts, ${report.audit.results} results), ${report.audit.tcpFlows} tcp + ${report.audit.udpFlows} udp flows, ${report.audit.problems.length} problems`);
  if (report.proxyConnections) lines.push(`test proxy log (last ${report.proxyConnections.entries}): ${report.proxyConnections.domainAtyp} ATYP domain, ${report.proxyConnections.otherAtyp} other, ${report.proxyConnections.authRejected} auth rejected; users ${report.proxyConnections.users.join(', ')}`);
  const b = report.before;
  const a = report.after;
  if (b && a) {
    lines.push(`descriptors: ${b.fds} → ${a.fds} (drained ${b.drained.settled ? `in ${b.drained.ms} ms` : 'NOT settled'} / ${a.drained.settled ? `in ${a.drained.ms} ms` : 'NOT settled'}); before ${JSON.stringify(b.fdKinds)}; after ${JSON.stringify(a.fdKinds)}`);
    lines.push(`resources: before ${JSON.stringify(b.resources)}; after ${JSON.stringify(a.resources)}`);
    lines.push(`RSS after GC (lowest of ${b.rssSamplesKb.map((x) => mb(x)).join(', ')} → of ${a.rssSamplesKb.map((x) => mb(x)).join(', ')}): ${mb(b.rssKb)} → ${mb(a.rssKb)} (${(rssGrowth(report, { raw: true }) * 100).toFixed(1)}%); peak (VmHWM) ${mb(a.hwmKb)}; forced GC: ${a.gc}`);
    lines.push(`RSS in use (without free committed V8 heap: ${mb(b.heapTotalKb - b.heapUsedKb)} → ${mb(a.heapTotalKb - a.heapUsedKb)}): ${mb(b.inUseKb)} → ${mb(a.inUseKb)} (${(rssGrowth(report) * 100).toFixed(1)}%); JS heap used ${mb(b.heapUsedKb)} → ${mb(a.heapUsedKb)}`);
  }
  const main = (report.rssSamples ?? []).filter((s) => s.stage === 'main');
  if (main.length) lines.push(`RSS under load (no GC, 1/s): min ${mb(Math.min(...main.map((s) => s.rssKb)))}, max ${mb(Math.max(...main.map((s) => s.rssKb)))}, last ${mb(main.at(-1).rssKb)}; descriptors under load max ${Math.max(...main.map((s) => s.fds))}`);
  if (report.latency) {
    const l = latencySummary(report);
    for (const phase of ['quiet', 'updates']) {
      const p = l[phase];
      lines.push(`latency ${phase.padEnd(7)} (${p.samples} proxied HTTP flows): chain p50/p99 ${ms(p.chainP50)} / ${ms(p.chainP99)}; direct baseline ${ms(p.baselineP50)} / ${ms(p.baselineP99)}; added ${ms(p.addedP50)} / ${ms(p.addedP99)}`);
      const d = report.loopDelay?.[phase] ?? [];
      if (d.length) lines.push(`  emulator event loop late (beyond a 10 ms timer) in ${phase} phases: p99 per phase ${d.map((x) => x.p99.toFixed(1)).join(', ')} ms; max ${Math.max(...d.map((x) => x.max)).toFixed(1)} ms`);
      const c = report.clientLoopDelay?.[phase] ?? [];
      if (c.length) lines.push(`  soak client's event loop late (beyond a 10 ms timer) in ${phase} phases: p99 per phase ${c.map((x) => x.p99.toFixed(1)).join(', ')} ms; max ${Math.max(...c.map((x) => x.max)).toFixed(1)} ms`);
    }
  }
  const c = report.child;
  if (c) lines.push(`emulator child: alive after load ${c.aliveAfterLoad}, exit ${JSON.stringify(c.exit)}, ${c.logs.errors.length} error logs, ${c.logs.warnings} warnings, ${c.logs.other.length} non-JSON stderr lines`);
  for (const p of [...report.problems, ...(report.audit?.problems ?? [])].slice(0, 30)) lines.push(`  problem: ${p}`);
  return lines;
}
