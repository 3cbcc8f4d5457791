// @ts-check
// Egress gateway benchmarks (issue 5 "Speed", issue 6 bulk/claim/cmd), importing the built code
// (npm run build first). The chain is sandbox → gateway (explicit SOCKS5 ingress or transparent
// namespace) → embedded test proxy (RFC 1929 auth, domain ATYP) → a loopback blob service, with the
// emulator alone in a child process so its CPU and memory are read without the client's or the
// service's. Baselines are measured in the same run, interleaved with the measured runs:
//  1. CPU-seconds per GiB of the emulator process (target ≤ 1.3); baseline: a bare two-hop Node pipe relay.
//  2. Bulk throughput of the chain (target ≥ 0.5× a direct loopback connection to the same service).
//  3. Added latency per new connection, connect → first response byte, chain minus direct
//     (targets: p50 < 1 ms, p99 < 5 ms).
//  4. New proxied connections/s at bounded concurrency (target ≥ 1,200/s; baseline the bare relay),
//     and 5,000 concurrent flows held open with the emulator's peak RSS (target < 400 MB); issue 8's
//     10,000 (target < 600 MB), spread over as many gateway and test proxy processes as the descriptor
//     limit needs, the figure the sum of their peaks (see section 4b).
//  5. Root only: transparent-mode bulk (curl in the sandbox namespace; target ≥ 0.4× curl direct),
//     `POST /api/v1/sandboxes` claim with a namespace (median < 200 ms) and a `cmd` context running
//     `true` (median < 50 ms).
// Every figure is a median with min–max over the runs. Everything runs on 127.0.0.1; 198.18.0.0/15
// addresses are data inside the emulator only. Every loop is bounded in count and time; every child
// is stopped by PID. Env: GATEWAY_BENCH_MIB (MiB per bulk run, default 512), GATEWAY_BENCH_RUNS
// (default 5), GATEWAY_BENCH_FLOWS (default 5000), GATEWAY_BENCH_CPU_PROF (a directory: the
// explicit-mode emulator child runs with --cpu-prof there). Children inherit the environment, so e.g.
// GLIBC_TUNABLES applies to the measured processes too. GATEWAY_BENCH_WARMUP (connections through
// each middle before measuring, default 8000). GATEWAY_BENCH_ONLY (comma-separated: bulk,
// latency, rate, flows, transparent) runs only those sections, for profiling one of them.
import { execFile, execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { median, pct, skipped, spread, verdict, verdicts } from './lib/stats.mjs';
import { drainTimeWait } from './lib/time-wait.mjs';
import { startIpcChild } from './lib/ipc-child.mjs';

const childScript = fileURLToPath(new URL('./lib/gateway-children.mjs', import.meta.url));
const { blobHost } = await import('./lib/gateway-children.mjs');
const { detectTransparentSupport } = await import('../dist/interception/transparent/detect.js');
const execFileP = promisify(execFile);
const GiB = 2 ** 30;
const MiB = 2 ** 20;
const RUNS = Math.max(5, Number(process.env.GATEWAY_BENCH_RUNS ?? 5));
const BULK_BYTES = Math.max(16, Number(process.env.GATEWAY_BENCH_MIB ?? 512)) * MiB;
const FLOWS = Number(process.env.GATEWAY_BENCH_FLOWS ?? 5000);
const LATENCY_SAMPLES = 500;
const RATE_CONNS = 1000;
const RATE_CONCURRENCY = 32;
const WARMUP_CONNS = Math.max(20, Number(process.env.GATEWAY_BENCH_WARMUP ?? 8000));
const isRoot = process.getuid?.() === 0;
const onlySections = process.env.GATEWAY_BENCH_ONLY ? new Set(process.env.GATEWAY_BENCH_ONLY.split(',')) : undefined;
const wanted = (section) => !onlySections || onlySections.has(section);
const benchStart = performance.now();

// ---- output (statistics and verdicts: bench/lib/stats.mjs) ------------------------------------------
const gbps = (b) => `${(b / 1e9).toFixed(2)} GB/s`;
const secs = (s) => `${s.toFixed(3)} s`;
const ms = (x) => `${x.toFixed(3)} ms`;
const line = (name, value) => console.log(`  ${name.padEnd(52)} ${value}`);
const load = () => `load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} on ${cpus().length} CPUs`;

// ---- child processes ------------------------------------------------------------------------------
/** Spawns one of the bench children (bench/lib/gateway-children.mjs) and waits for its {ready} message. */
async function startChild(args, { nodeFlags = [] } = {}) {
  const c = await startIpcChild(childScript, args, { nodeFlags });
  const cpuSeconds = async () => {
    const u = await c.call('cpu');
    return (u.user + u.system) / 1e6;
  };
  const userSeconds = async () => (await c.call('cpu')).user / 1e6;
  return { ...c, cpuSeconds, userSeconds };
}

// ---- clients --------------------------------------------------------------------------------------
const SOCKS_VERSION = 0x05;
const SOCKS_NO_AUTH = 0x00;
const SOCKS_CMD_CONNECT = 0x01;
const SOCKS_ATYP_IPV4 = 0x01;
const SOCKS_ATYP_DOMAIN = 0x03;
const SOCKS_ATYP_IPV6 = 0x04;
const SOCKS_REPLY_SUCCEEDED = 0x00;

function parseHostPort(hp) {
  const i = hp.lastIndexOf(':');
  return { host: hp.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(hp.slice(i + 1)) };
}

/** A minimal SOCKS5 CONNECT by name (what a proxy-aware program in the sandbox does), step by step. */
function socksConnect(ingress, host, port) {
  return new Promise((resolve, reject) => {
    const s = net.connect(ingress);
    s.setNoDelay(true);
    let buf = Buffer.alloc(0);
    let step = 'greeting';
    const fail = (err) => {
      s.destroy();
      reject(err);
    };
    s.on('error', fail);
    s.on('close', () => reject(new Error(`ingress closed during ${step}`)));
    s.once('connect', () => s.write(Buffer.from([SOCKS_VERSION, 1, SOCKS_NO_AUTH])));
    const onData = (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      if (step === 'greeting') {
        if (buf.length < 2) return;
        if (buf[1] !== SOCKS_NO_AUTH) return fail(new Error('ingress refused no-auth'));
        buf = buf.subarray(2);
        step = 'connect';
        const name = Buffer.from(host);
        const req = Buffer.alloc(7 + name.length);
        req.set([SOCKS_VERSION, SOCKS_CMD_CONNECT, 0, SOCKS_ATYP_DOMAIN, name.length]);
        name.copy(req, 5);
        req.writeUInt16BE(port, 5 + name.length);
        s.write(req);
      }
      if (step === 'connect') {
        if (buf.length < 5) return;
        const addrLen = buf[3] === SOCKS_ATYP_IPV4 ? 4 : buf[3] === SOCKS_ATYP_IPV6 ? 16 : buf[3] === SOCKS_ATYP_DOMAIN ? 1 + buf[4] : -1;
        if (addrLen < 0) return fail(new Error('bad SOCKS5 reply'));
        const need = 4 + addrLen + 2;
        if (buf.length < need) return;
        if (buf[1] !== SOCKS_REPLY_SUCCEEDED) return fail(new Error(`SOCKS5 reply ${buf[1]}`));
        s.off('data', onData);
        s.removeAllListeners('error');
        s.removeAllListeners('close');
        if (buf.length > need) s.unshift(buf.subarray(need));
        resolve(s);
      }
    };
    s.on('data', onData);
  });
}

function directConnect(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.removeListener('error', reject);
      resolve(s);
    });
    s.setNoDelay(true);
    s.once('error', reject);
  });
}

/**
 * GET `path` on a connected socket; counts every byte until the peer closes.
 * @param {import('node:net').Socket} socket
 * @param {string} path
 * @param {string} [host]
 * @param {{ onFirstByte?: () => void }} [options]
 */
function get(socket, path, host = blobHost, { onFirstByte } = {}) {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    socket.on('data', (d) => {
      if (bytes === 0) onFirstByte?.();
      bytes += d.length;
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(bytes));
    socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  });
}

const headerBytes = (n) => `HTTP/1.1 200 OK\r\ncontent-length: ${n}\r\nconnection: close\r\n\r\n`.length;

// ---- measurements ---------------------------------------------------------------------------------
async function bulkRun(open, cpuOf, userOf) {
  const cpu0 = cpuOf ? await cpuOf() : 0;
  const user0 = userOf ? await userOf() : 0;
  const t0 = performance.now();
  const s = await open();
  const bytes = await get(s, `/blob/${BULK_BYTES}`);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuOf ? (await cpuOf()) - cpu0 : 0;
  const user = userOf ? (await userOf()) - user0 : 0;
  if (bytes !== BULK_BYTES + headerBytes(BULK_BYTES)) throw new Error(`bulk run got ${bytes} bytes, wanted ${BULK_BYTES + headerBytes(BULK_BYTES)}`);
  return { rate: bytes / seconds, cpuPerGiB: (cpu / bytes) * GiB, userPerGiB: (user / bytes) * GiB };
}

async function timeToFirstByte(open) {
  const t0 = performance.now();
  let t1 = 0;
  const s = await open();
  const bytes = await get(s, '/tiny', blobHost, { onFirstByte: () => (t1 = performance.now()) });
  if (bytes === 0) throw new Error('no answer to /tiny');
  return t1 - t0;
}

/** `total` GET /tiny connections, `concurrency` at a time; bounded by `deadlineMs`. */
async function connectionRate(open, total, concurrency, deadlineMs = 60_000) {
  let started = 0;
  let done = 0;
  let failed = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (started < total && performance.now() - t0 < deadlineMs) {
      started++;
      try {
        if ((await get(await open(), '/tiny')) === 0) failed++;
      } catch {
        failed++;
      }
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { perSecond: done / ((performance.now() - t0) / 1000), done, failed };
}

/**
 * Opens `count` flows (GET /hold, first byte seen) at bounded concurrency and keeps them open;
 * `open(i)` opens the i-th (0-based).
 */
async function holdFlows(open, count, concurrency = 200, deadlineMs = 90_000) {
  const sockets = [];
  let started = 0;
  let failed = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (started < count && performance.now() - t0 < deadlineMs) {
      const i = started++;
      try {
        const s = await open(i);
        await /** @type {Promise<void>} */ (new Promise((resolve, reject) => {
          s.once('data', () => resolve());
          s.once('error', reject);
          s.once('close', () => reject(new Error('closed')));
          s.write(`GET /hold HTTP/1.1\r\nHost: ${blobHost}\r\nConnection: close\r\n\r\n`);
        }));
        s.removeAllListeners('close');
        s.removeAllListeners('error');
        s.on('error', () => {});
        s.on('data', () => {});
        sockets.push(s);
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { sockets, failed, seconds: (performance.now() - t0) / 1000 };
}

/**
 * Holds `count` flows through one middle (the emulator's gateway and test proxy, or the bare relay's
 * two hops), each hop in fresh processes of its own, and reads their peak RSS (sum of VmHWM).
 * `processes` (P): how many processes per hop. P = 1: one gateway (emulator without its embedded
 * proxy, one sandbox) and one test proxy. P > 1: P gateway processes, each with P sandboxes whose
 * policies name P different proxy addresses, one per test proxy process; flow i goes through gateway
 * i mod P and its sandbox (proxy) ⌊i / P⌋ mod P, so every gateway and every proxy holds count / P. The
 * relay: P pairs of hops, flow i through pair i mod P. The figure is then the sum of the 2P peaks: an
 * upper bound of one process holding everything, since every process pays Node's own baseline.
 * For the emulator it also checks the flows really went through the test proxies: the connections
 * they accepted (and, of those they keep in their bounded log, the ones still open, authenticated and
 * dialled to the blob service) and the sockets they hold (2 per flow) must add up to the flows held.
 */
async function holdRun(kind, count, blobPort, processes = 1) {
  await drainTimeWait();
  const P = processes;
  let middle;
  let names;
  let open;
  let proxies = [];
  if (kind === 'emulator') {
    for (let k = 0; k < P; k++) proxies.push(await started(['--serve-proxy', String(blobPort)]));
    const gws = [];
    for (let g = 0; g < P; g++) gws.push(await started(['--serve-emulator', String(blobPort), 'explicit', proxies.map((p) => p.info.port).join(',')]));
    middle = [...gws, ...proxies];
    names = [...gws.map((_, g) => `gateway ${g + 1}`), ...proxies.map((_, k) => `proxy ${k + 1}`)];
    const ingresses = gws.map((gw) => gw.info.ingresses.map(parseHostPort));
    open = (i) => socksConnect(ingresses[i % P][Math.floor(i / P) % P], blobHost, 80);
  } else {
    const hop1s = [];
    const hop2s = [];
    for (let k = 0; k < P; k++) {
      const hop2 = await started(['--serve-relay', String(blobPort), 'single']);
      hop2s.push(hop2);
      hop1s.push(await started(['--serve-relay', String(hop2.info.port), 'single']));
    }
    middle = [...hop1s, ...hop2s];
    names = [...hop1s.map((_, k) => `hop 1 #${k + 1}`), ...hop2s.map((_, k) => `hop 2 #${k + 1}`)];
    open = (i) => directConnect(hop1s[i % P].info.port);
  }
  const before = await Promise.all(middle.map((c) => c.call('mem')));
  const fdsBefore = await Promise.all(middle.map((c) => c.call('fds')));
  const h = await holdFlows(open, count, 100, Math.max(90_000, count * 20));
  const after = await Promise.all(middle.map((c) => c.call('mem')));
  // Read after the memory figures, so the listing's own allocations are not in them.
  const fdsAfter = await Promise.all(middle.map((c) => c.call('fds')));
  const sum = (xs, k) => xs.reduce((a, x) => a + x[k], 0) / 1024;
  const result = { open: h.sockets.length, failed: h.failed, seconds: h.seconds, peakMb: sum(after, 'hwmKb'), idleMb: sum(before, 'rssKb'), before, after, names, verified: true };
  const mb = (xs, k) => xs.map((m) => (m[k] / 1024).toFixed(0)).join(' + ');
  if (P > 1) line(`${kind}: processes (in this order below)`, names.join(', '));
  line(`${kind}: flows open / failed / time to open`, `${h.sockets.length} / ${h.failed} / ${h.seconds.toFixed(1)} s`);
  line(`${kind}: RSS idle → with flows (per process)`, `${mb(before, 'rssKb')} MB → ${mb(after, 'rssKb')} MB`);
  line(`${kind}: JS heap used idle → with flows (per process)`, `${mb(before, 'heapUsedKb')} MB → ${mb(after, 'heapUsedKb')} MB; ArrayBuffers ${mb(before, 'arrayBuffersKb')} MB → ${mb(after, 'arrayBuffersKb')} MB`);
  line(`${kind}: socket descriptors idle → with flows (per process)`, `${fdsBefore.map((f) => f.sockets).join(' + ')} → ${fdsAfter.map((f) => f.sockets).join(' + ')}`);
  line(`${kind}: peak RSS, sum of the ${P === 1 ? 'two' : 2 * P} processes`, `${mb(after, 'hwmKb')} = ${result.peakMb.toFixed(0)} MB`);
  if (kind === 'emulator') {
    const conns = await Promise.all(proxies.map((p) => p.call('connections')));
    const first = middle.indexOf(proxies[0]);
    const proxySockets = proxies.reduce((a, _, k) => a + fdsAfter[first + k].sockets - fdsBefore[first + k].sockets, 0);
    const accepted = conns.reduce((a, c) => a + c.accepted, 0);
    const kept = conns.reduce((a, c) => a + c.kept, 0);
    const keptOk = conns.reduce((a, c) => a + c.keptOpenOk, 0);
    result.verified = accepted === h.sockets.length && keptOk === kept && proxySockets === 2 * h.sockets.length;
    line(
      `${kind}: through the test proxies (${result.verified ? 'checked' : 'CHECK FAILED'})`,
      `accepted ${conns.map((c) => c.accepted).join(' + ')} = ${accepted}; newest ${kept} logged: ${keptOk} open, authenticated, to the blob service; +${proxySockets} sockets (2 per flow: ${2 * h.sockets.length})`,
    );
  }
  await closeAll(h.sockets);
  for (const c of middle) await stopChild(c);
  return result;
}

async function closeAll(sockets) {
  await Promise.all(
    sockets.map(
      (s) =>
        /** @type {Promise<void>} */ (new Promise((resolve) => {
          if (s.destroyed) return resolve();
          s.once('close', resolve);
          s.destroy();
        })),
    ),
  );
}

// ---- the run --------------------------------------------------------------------------------------
const children = [];
const started = async (args, opts) => {
  const c = await startChild(args, opts);
  children.push(c);
  return c;
};
const stopChild = async (c) => {
  await c.stop();
  children.splice(children.indexOf(c), 1);
};

let exitCode = 0;
try {
  console.log(`gateway benchmark: ${load()}; ${RUNS} runs per figure, ${BULK_BYTES / MiB} MiB per bulk run`);
  const blob = await started(['--serve-blob']);
  const blobPort = blob.info.port;
  const relay = await started(['--serve-relay', String(blobPort)]);
  // Only the rate figures use it: the same sockets and SOCKS5 messages as the chain, without its logic.
  const socksFloor = wanted('rate') ? await started(['--serve-socks-relay', String(blobPort)]) : undefined;
  const profDir = process.env.GATEWAY_BENCH_CPU_PROF;
  const emu = await started(['--serve-emulator', String(blobPort), 'explicit'], { nodeFlags: profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [] });
  const ingress = parseHostPort(emu.info.ingress);
  const viaChain = () => socksConnect(ingress, blobHost, 80);
  const viaRelay = () => directConnect(relay.info.port);
  const viaDirect = () => directConnect(blobPort);

  // Warm-up to steady state, so JIT and first-use costs are not in the figures. The emulator's
  // per-connection CPU keeps falling for the first few thousand connections (measured: 3.7 ms on the
  // first 2,000, 1.4-1.5 ms from the 8,000th on, at 32 in flight), so 20 flows measured a cold process.
  const warm = async (open) => {
    const w = await connectionRate(open, WARMUP_CONNS, RATE_CONCURRENCY, 120_000);
    if (w.failed) throw new Error(`warm-up: ${w.failed} of ${w.done} connections failed`);
    return w;
  };
  const warmChain = await warm(viaChain);
  const warmRelay = await warm(viaRelay);
  const viaSocksFloor = socksFloor ? () => socksConnect({ host: '127.0.0.1', port: socksFloor.info.port }, blobHost, 80) : undefined;
  if (viaSocksFloor) await warm(viaSocksFloor);
  console.log(`warm-up: ${WARMUP_CONNS} connections each, chain ${warmChain.perSecond.toFixed(0)}/s, bare relay ${warmRelay.perSecond.toFixed(0)}/s (GATEWAY_BENCH_WARMUP)`);
  if (wanted('bulk')) await bulkRun(viaChain, emu.cpuSeconds);

  // 1 + 2: bulk, interleaved so load changes hit every series alike.
  if (wanted('bulk')) {
    console.log(`\n[1, 2] bulk: sandbox → gateway → test proxy → blob service (explicit SOCKS5 ingress)`);
    const chain = [];
    const relayRuns = [];
    const direct = [];
    for (let i = 0; i < RUNS; i++) {
      direct.push(await bulkRun(viaDirect));
      chain.push(await bulkRun(viaChain, emu.cpuSeconds, emu.userSeconds));
      relayRuns.push(await bulkRun(viaRelay, relay.cpuSeconds, relay.userSeconds));
    }
    const cpuChain = chain.map((r) => r.cpuPerGiB);
    const cpuRelay = relayRuns.map((r) => r.cpuPerGiB);
    line('emulator CPU per GiB (both hops)', spread(cpuChain, secs));
    line('  of which user space (the rest is kernel)', spread(chain.map((r) => r.userPerGiB), secs));
    line('baseline: bare two-hop Node pipe relay CPU per GiB', spread(cpuRelay, secs));
    line('  of which user space', spread(relayRuns.map((r) => r.userPerGiB), secs));
    // The absolute target was set where a bare relay cost 0.53 s/GiB per hop: 1.3 s allows 1.23x two hops.
    line('ratio emulator / bare relay (medians)', `${(median(cpuChain) / median(cpuRelay)).toFixed(2)}x (the target's own allowance: 1.3 / (2 × 0.53) = 1.23x)`);
    verdict('CPU-seconds per GiB, whole chain ≤ 1.3 s', median(cpuChain) <= 1.3, `median ${secs(median(cpuChain))}`, {
      figure: 'emulator CPU-seconds per GiB, explicit chain (both hops)',
      samples: cpuChain,
      unit: 's',
      baseline: { name: 'bare two-hop Node pipe relay', samples: cpuRelay },
      target: '≤ 1.3 s',
    });
    const tChain = chain.map((r) => r.rate);
    const tDirect = direct.map((r) => r.rate);
    const tRelay = relayRuns.map((r) => r.rate);
    line('chain throughput', spread(tChain, gbps));
    line('baseline: direct loopback throughput', spread(tDirect, gbps));
    line('bare two-hop relay throughput (reference)', spread(tRelay, gbps));
    const tRatios = chain.map((r, i) => r.rate / direct[i].rate);
    line('ratio chain / direct (per interleaved pair)', spread(tRatios, (x) => `${x.toFixed(2)}x`));
    verdict('bulk throughput ≥ 0.5× direct loopback', median(tRatios) >= 0.5, `median ratio ${median(tRatios).toFixed(2)}x`, {
      figure: 'bulk throughput, explicit chain',
      samples: tChain.map((x) => x / 1e9),
      unit: 'GB/s',
      baseline: { name: 'direct loopback', samples: tDirect.map((x) => x / 1e9) },
      ratio: tRatios,
      target: '≥ 0.5× direct',
    });
  }

  // 3: added latency per new connection.
  if (wanted('latency')) {
    console.log(`\n[3] connect → first response byte, tiny request (${LATENCY_SAMPLES} sequential samples each, interleaved)`);
    const latChain = [];
    const latDirect = [];
    await drainTimeWait(); // connect() slows down with the ephemeral range full of TIME_WAIT
    const latDeadline = performance.now() + 30_000;
    for (let i = 0; i < LATENCY_SAMPLES && performance.now() < latDeadline; i++) {
      latDirect.push(await timeToFirstByte(viaDirect));
      latChain.push(await timeToFirstByte(viaChain));
    }
    line('direct: p50 / p99', `${ms(pct(latDirect, 0.5))} / ${ms(pct(latDirect, 0.99))}`);
    line('chain:  p50 / p99', `${ms(pct(latChain, 0.5))} / ${ms(pct(latChain, 0.99))}`);
    const addedP50 = pct(latChain, 0.5) - pct(latDirect, 0.5);
    const addedP99 = pct(latChain, 0.99) - pct(latDirect, 0.99);
    line('added by the chain: p50 / p99', `${ms(addedP50)} / ${ms(addedP99)}  (ratio of p50s ${(pct(latChain, 0.5) / pct(latDirect, 0.5)).toFixed(1)}x)`);
    // One figure from all samples (chain pN minus direct pN); the ratio is chain pN / direct pN.
    const latency = (p) => ({
      figure: `added latency p${p * 100}, connect → first byte (${latChain.length} samples)`,
      value: pct(latChain, p) - pct(latDirect, p),
      n: latChain.length,
      unit: 'ms',
      baseline: { name: `direct loopback p${p * 100}`, value: pct(latDirect, p), n: latDirect.length },
      ratio: pct(latChain, p) / pct(latDirect, p),
    });
    verdict('added latency p50 < 1 ms', addedP50 < 1, ms(addedP50), { ...latency(0.5), target: '< 1 ms' });
    verdict('added latency p99 < 5 ms', addedP99 < 5, ms(addedP99), { ...latency(0.99), target: '< 5 ms' });
  }

  // 4a: new connections per second.
  if (wanted('rate')) {
    console.log(`\n[4] new connections/s (${RATE_CONNS} GET /tiny per run, ${RATE_CONCURRENCY} in flight)`);
    const rateChain = [];
    const rateRelay = [];
    let rateFailed = 0;
    const cpuPerConnChain = [];
    const cpuPerConnRelay = [];
    const cpuPerConnFloor = [];
    if (!socksFloor || !viaSocksFloor) throw new Error('the SOCKS5 floor was not started');
    for (let i = 0; i < RUNS; i++) {
      const tw1 = await drainTimeWait();
      const e0 = await emu.cpuSeconds();
      const c = await connectionRate(viaChain, RATE_CONNS, RATE_CONCURRENCY);
      cpuPerConnChain.push((((await emu.cpuSeconds()) - e0) / c.done) * 1000);
      const tw2 = await drainTimeWait();
      const r0 = await relay.cpuSeconds();
      const r = await connectionRate(viaRelay, RATE_CONNS, RATE_CONCURRENCY);
      cpuPerConnRelay.push((((await relay.cpuSeconds()) - r0) / r.done) * 1000);
      await drainTimeWait();
      const f0 = await socksFloor.cpuSeconds();
      const f = await connectionRate(viaSocksFloor, RATE_CONNS, RATE_CONCURRENCY);
      cpuPerConnFloor.push((((await socksFloor.cpuSeconds()) - f0) / f.done) * 1000);
      rateChain.push(c.perSecond);
      rateRelay.push(r.perSecond);
      rateFailed += c.failed + r.failed + f.failed;
      line(`run ${i + 1}: chain / relay (TIME_WAIT before: ${tw1} / ${tw2})`, `${c.perSecond.toFixed(0)}/s / ${r.perSecond.toFixed(0)}/s`);
    }
    line('chain connections/s', spread(rateChain, (x) => `${x.toFixed(0)}/s`));
    line('baseline: bare two-hop relay connections/s', spread(rateRelay, (x) => `${x.toFixed(0)}/s`));
    line('ratio chain / relay (medians)', `${(median(rateChain) / median(rateRelay)).toFixed(2)}x; failed connections ${rateFailed}`);
    line('emulator CPU per new connection', spread(cpuPerConnChain, ms));
    line('bare relay CPU per new connection', spread(cpuPerConnRelay, ms));
    line('SOCKS5 floor CPU per new connection (same sockets and messages, no logic)', spread(cpuPerConnFloor, ms));
    line('ratio emulator / SOCKS5 floor (medians)', `${(median(cpuPerConnChain) / median(cpuPerConnFloor)).toFixed(2)}x`);
    verdict('emulator CPU per new proxied connection ≤ 0.7 ms', median(cpuPerConnChain) <= 0.7, `median ${ms(median(cpuPerConnChain))}`, {
      figure: `emulator CPU per new proxied connection, explicit chain (${RATE_CONNS} per run after ${WARMUP_CONNS} warm-up)`,
      samples: cpuPerConnChain,
      unit: 'ms',
      baseline: { name: 'SOCKS5 floor: the same sockets and messages without policy, audit or logging', samples: cpuPerConnFloor },
      target: '≤ 0.7 ms',
    });
    verdict('new proxied connections ≥ 1,200/s', median(rateChain) >= 1200 && rateFailed === 0, `median ${median(rateChain).toFixed(0)}/s`, {
      figure: `new proxied connections/s (${RATE_CONCURRENCY} in flight)`,
      samples: rateChain,
      unit: '/s',
      baseline: { name: 'bare two-hop Node relay', samples: rateRelay },
      target: '≥ 1,200/s',
    });
  }

  // The explicit API's claim latency is the baseline of the transparent one (section 5).
  const explicitClaims = [];
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    const id = await claimViaApi(emu.info);
    explicitClaims.push(performance.now() - t);
    await api(emu.info, 'DELETE', `/api/v1/sandboxes/${id}`);
  }
  await stopChild(emu); // writes the CPU profile when asked for
  await stopChild(relay);
  if (socksFloor) await stopChild(socksFloor);

  // 4b: 5,000 concurrent flows. Held through one process, they would be 4 sockets each (20,000 and
  // more descriptors), over this machine's hard limit; so each hop runs in its own fresh process —
  // the gateway (emulator without its embedded proxy) and the test proxy; the two bare relay hops for
  // the baseline — and the figure is the sum of the two processes' peaks (VmHWM), an upper bound of
  // the peak of one process holding both.
  if (wanted('flows')) {
    const fdLimit = Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
    console.log(`\n[4] ${FLOWS} concurrent flows held open (GET /hold); descriptor limit ${fdLimit}; peak RSS (VmHWM) of the processes in the middle`);
    const held = {};
    for (const kind of ['emulator', 'relay']) {
      held[kind] = await holdRun(kind, FLOWS, blobPort);
    }
    line('ratio of peaks emulator / bare relay', `${(held.emulator.peakMb / held.relay.peakMb).toFixed(2)}x`);
    verdict(`${FLOWS} concurrent flows, peak RSS < 400 MB`, held.emulator.open === FLOWS && held.emulator.peakMb < 400, `${held.emulator.open} flows, peak ${held.emulator.peakMb.toFixed(0)} MB`, {
      figure: `peak RSS with ${FLOWS} concurrent flows (gateway + test proxy processes, one run)`,
      value: held.emulator.peakMb,
      unit: 'MB',
      baseline: { name: 'bare two-hop relay processes', value: held.relay.peakMb },
      target: '< 400 MB',
    });

    // Issue 8's target: 10,000 flows under 600 MB. Each hop holds two descriptors per flow (its
    // client side and its upstream), so one gateway process holds at most ⌊(limit − 200) / 2⌋ flows
    // (9,900 under this machine's hard limit of 20,000), and so does one test proxy process. Below
    // 10,000 per process the flows are spread over P = ⌈10,000 / that⌉ gateway processes and P test
    // proxy processes (holdRun: every gateway has one sandbox per proxy, each sandbox's policy naming
    // a different proxy address), all 10,000 really held at once, and the figure is the sum of all
    // their peaks: an upper bound of one process holding them, which pays Node's own baseline once,
    // not 2P times. The baseline is the bare relay in the same layout. (The library's in-process
    // interception, emu.sandbox(id).connect(), does not save descriptors: its Duplex is a loopback
    // socket pair to a rendezvous listener in the emulator, 3 descriptors per flow with the upstream.)
    const target = 10_000;
    const perProcess = Math.floor((fdLimit - 200) / 2);
    const P = Math.ceil(target / perProcess);
    console.log(
      `\n[4] ${target} concurrent flows (issue 8), peak RSS < 600 MB; the descriptor limit ${fdLimit} holds ${Math.min(target, perProcess)} flows per process (2 descriptors per flow and hop)` +
        (P > 1 ? `: ${P} gateway processes and ${P} test proxy processes, ${target / P} flows each, peak RSS summed over them` : ''),
    );
    const big = await holdRun('emulator', target, blobPort, P);
    const bigRelay = await holdRun('relay', target, blobPort, P);
    line(`ratio of peaks emulator / bare relay (${2 * P} processes each)`, `${(big.peakMb / bigRelay.peakMb).toFixed(2)}x`);
    const layout = P === 1 ? 'gateway + test proxy processes' : `${P} gateway + ${P} test proxy processes, sum of peaks`;
    let detail = `${big.open} flows (${big.failed} failed, ${big.seconds.toFixed(1)} s to open), peak ${big.peakMb.toFixed(0)} MB`;
    if (P > 1) {
      // Not a measurement: the sum less the idle RSS of every gateway and proxy process but the first of each.
      const extraIdleMb = big.before.reduce((a, m, j) => a + (j % P === 0 ? 0 : m.rssKb), 0) / 1024;
      const oneProcessMb = big.peakMb - extraIdleMb;
      line(`estimate for one gateway + one proxy process (sum − idle RSS of the other ${2 * P - 2})`, `${oneProcessMb.toFixed(0)} MB (an estimate, not measured)`);
      detail = `${big.open} flows (${big.failed} failed, ${big.seconds.toFixed(1)} s to open) through ${P} gateway + ${P} test proxy processes, sum of peaks ${big.peakMb.toFixed(0)} MB (${big.after.map((m) => (m.hwmKb / 1024).toFixed(0)).join(' + ')}); less the idle RSS of the extra ${2 * P - 2} processes ~${oneProcessMb.toFixed(0)} MB (estimate)`;
    }
    if (!big.verified) detail += '; the test proxies did not account for every flow';
    const bigData = {
      figure: `peak RSS with ${target} concurrent flows (${layout}, one run)`,
      value: big.peakMb,
      unit: 'MB',
      baseline: { name: `bare two-hop relay, ${2 * P} processes`, value: bigRelay.peakMb },
      target: '< 600 MB',
    };
    const bigHeld = big.open === target && big.verified;
    // Split over processes, a sum under the target proves it met; a sum over it proves nothing (it
    // pays Node's baseline 2P times), so the target is then reported as not measurable here.
    if (P > 1 && bigHeld && big.peakMb >= 600)
      skipped(`${target} concurrent flows, peak RSS < 600 MB`, `the descriptor limit (${fdLimit}, hard) splits the flows over ${2 * P} processes and their summed peak is only an upper bound: ${detail}`, bigData);
    else verdict(`${target} concurrent flows, peak RSS < 600 MB`, bigHeld && big.peakMb < 600, detail, bigData);
  }

  // 5: transparent mode.
  console.log(`\n[5] transparent interception (network namespaces)`);
  if (!wanted('transparent')) console.log('  skipped: not in GATEWAY_BENCH_ONLY');
  else if (!isRoot) console.log('  skipped: needs root');
  else {
    const support = await detectTransparentSupport();
    if (!support.ok) console.log(`  skipped: ${support.reason}`);
    else await transparentSection(blobPort, explicitClaims);
  }
} catch (err) {
  console.log(`gateway benchmark failed: ${err instanceof Error ? err.stack : err}`);
  exitCode = 1;
} finally {
  for (const c of [...children].reverse()) await c.stop().catch(() => {});
}
console.log(`\n${verdicts.filter((v) => v.met).length}/${verdicts.length} targets met; ${load()}; ${((performance.now() - benchStart) / 1000).toFixed(0)} s`);
process.exit(exitCode);

// ---- API helpers and section 5 --------------------------------------------------------------------
async function api(info, method, path, body) {
  const res = await fetch(`${info.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${info.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(60_000),
  });
  const json = /** @type {any} */ (await res.json());
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json.data;
}

async function claimViaApi(info) {
  return (await api(info, 'POST', '/api/v1/sandboxes', { template: 'default' })).sandbox_id;
}

async function transparentSection(blobPort, explicitClaims) {
  const profDir = process.env.GATEWAY_BENCH_CPU_PROF;
  const emu = await started(['--serve-emulator', String(blobPort), 'transparent'], { nodeFlags: profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [] });
  if (emu.info.mode !== 'transparent') throw new Error(`emulator came up in ${emu.info.mode} mode`);
  const claims = [];
  const ids = [];
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    ids.push(await claimViaApi(emu.info));
    claims.push(performance.now() - t);
  }
  const id = ids.shift();
  for (const other of ids) await api(emu.info, 'DELETE', `/api/v1/sandboxes/${other}`);
  line('POST /api/v1/sandboxes with a namespace', spread(claims, ms));
  line('baseline: the same claim in explicit mode', `${spread(explicitClaims, ms)}; ratio ${(median(claims) / median(explicitClaims)).toFixed(1)}x`);
  verdict('claim with namespace, median < 200 ms', median(claims) < 200, ms(median(claims)), {
    figure: 'POST /api/v1/sandboxes with a namespace',
    samples: claims,
    unit: 'ms',
    baseline: { name: 'the same claim in explicit mode', samples: explicitClaims },
    target: '< 200 ms',
  });

  const cmd = (command) => api(emu.info, 'POST', `/api/v1/sandboxes/${id}/contexts`, { type: 'cmd', cmd: { command }, wait_until_done: true });
  const cmds = [];
  const hostTrue = [];
  for (let i = 0; i < 15; i++) {
    const t = performance.now();
    const r = await cmd(['true']);
    cmds.push(performance.now() - t);
    if (r.exit_code !== 0) throw new Error(`true exited with ${r.exit_code} in the sandbox`);
    const h = performance.now();
    await execFileP('true');
    hostTrue.push(performance.now() - h);
  }
  line('cmd context `true` via the API, round trip', spread(cmds, ms));
  line('baseline: `true` on the host (execFile)', `${spread(hostTrue, ms)}; ratio ${(median(cmds) / median(hostTrue)).toFixed(1)}x`);
  verdict('cmd `true` round trip, median < 50 ms', median(cmds) < 50, ms(median(cmds)), {
    figure: 'cmd context `true` via the API, round trip',
    samples: cmds,
    unit: 'ms',
    baseline: { name: '`true` on the host (execFile)', samples: hostTrue },
    target: '< 50 ms',
  });

  await emu.call('policy', id);
  const curlArgs = (url) => ['-sS', '--max-time', '60', '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{speed_download}', url];
  const parseCurl = (out) => {
    const [code, size, speed] = out.trim().split(' ').map(Number);
    if (code !== 200 || size !== BULK_BYTES) throw new Error(`curl: ${out.trim()}`);
    return speed;
  };
  const viaSandbox = [];
  const viaHost = [];
  const cpuPerGiB = [];
  for (let i = 0; i < RUNS; i++) {
    const { stdout } = await execFileP('curl', curlArgs(`http://127.0.0.1:${blobPort}/blob/${BULK_BYTES}`));
    viaHost.push(parseCurl(stdout));
    const cpu0 = await emu.cpuSeconds();
    const r = await cmd(['curl', ...curlArgs(`http://${blobHost}/blob/${BULK_BYTES}`)]);
    cpuPerGiB.push((((await emu.cpuSeconds()) - cpu0) / BULK_BYTES) * GiB);
    if (r.exit_code !== 0) throw new Error(`curl in the sandbox exited with ${r.exit_code}: ${r.stderr}`);
    viaSandbox.push(parseCurl(r.stdout));
  }
  const ratios = viaSandbox.map((s, i) => s / viaHost[i]);
  line('curl in the sandbox namespace through the chain', spread(viaSandbox, gbps));
  line('baseline: curl on the host, direct loopback', spread(viaHost, gbps));
  line('ratio (per interleaved pair)', spread(ratios, (x) => `${x.toFixed(2)}x`));
  line('emulator CPU per GiB, transparent (incl. the cmd context)', spread(cpuPerGiB, secs));
  verdict('transparent bulk ≥ 0.4× direct loopback', median(ratios) >= 0.4, `median ratio ${median(ratios).toFixed(2)}x`, {
    figure: 'transparent bulk, curl in the sandbox namespace through the chain',
    samples: viaSandbox.map((x) => x / 1e9),
    unit: 'GB/s',
    baseline: { name: 'curl on the host, direct loopback', samples: viaHost.map((x) => x / 1e9) },
    ratio: ratios,
    target: '≥ 0.4× direct',
  });
  await stopChild(emu);
}
