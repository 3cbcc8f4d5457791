// @ts-check
// Benchmarks the embedded SOCKS5 test proxy against dante-server and microsocks, all measured in this
// run on loopback: CPU-seconds per GiB relayed (the stable figure on a noisy machine), bulk throughput,
// new connections/s with username/password auth, and peak RSS with 5,000 concurrent relayed connections.
// Each proxy runs in its own process so its CPU and memory can be read from /proc. Every figure is a
// median with min–max over SEE_BENCH_RUNS runs (default 5, at least 5), the contenders interleaved in
// every run so that load from elsewhere hits them alike; ratios are medians of the per-run ratios.
// Before every connection-rate run and every 5,000-connection run the loopback TIME_WAIT sockets are
// drained below a ceiling (bounded wait, bench/lib/time-wait.mjs). Peak RSS (VmHWM) is read from a
// fresh process per run, the baseline microsocks's likewise.
// Env: SEE_BENCH_GIB (GiB per bulk run, default 2), SEE_BENCH_CONNS (handshakes per rate run, default
// 4000), SEE_BENCH_RUNS, SEE_BENCH_ONLY (comma-separated contenders), SEE_BENCH_CONCURRENT (connections
// held for the peak-RSS figure, default 5000: the target's), SEE_BENCH_SKIP_CONCURRENT=1.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, ratios, runsFrom, skipped, spread, verdict, figure } from './lib/stats.mjs';
import { drainTimeWait } from './lib/time-wait.mjs';

const here = fileURLToPath(import.meta.url);
const GiB = 2 ** 30;
const CLK_TCK = 100;

// ---- child mode: our proxy alone in a process ------------------------------------------------------
if (process.argv[2] === '--serve-proxy') {
  const { createTestProxy } = await import('../dist/test-proxy/proxy.js');
  const [user, pass] = process.argv.slice(3);
  const proxy = await createTestProxy({ users: [{ username: user, password: pass }], directIps: 'loopback', idleTimeoutMs: 0, logCapacity: 100 });
  process.stdout.write(JSON.stringify({ port: proxy.port }) + '\n');
  process.on('SIGTERM', () => proxy.stop().then(() => process.exit(0)));
  await new Promise(() => {});
}

// ---- helpers -------------------------------------------------------------------------------------------
const has = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const isRoot = process.getuid?.() === 0;

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

async function freePort() {
  const s = net.createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

async function waitForPort(port, child, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
    const ok = await new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`port ${port} not open`);
}

/** utime+stime (+ reaped children) of every process in a process group, in seconds. */
function groupCpuSeconds(pgid) {
  let ticks = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue;
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields after the name: state(0) ppid(1) pgrp(2) ... utime(11) stime(12) cutime(13) cstime(14)
    if (Number(f[2]) !== pgid) continue;
    ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  }
  return ticks / CLK_TCK;
}

function peakRssMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
  return hwm ? Number(hwm[1]) / 1024 : NaN;
}

/** @param {import('node:child_process').ChildProcess} child @returns {Promise<void>} */
function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      try {
        process.kill(-(/** @type {number} */ (child.pid)), 'SIGKILL');
      } catch {}
    }, 3000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    try {
      process.kill(-(/** @type {number} */ (child.pid)), 'SIGTERM'); // the whole group (dante forks)
    } catch {
      resolve();
    }
  });
}

async function startOurs(user, pass) {
  const child = spawn(process.execPath, [here, '--serve-proxy', user, pass], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  const port = await new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (c) => {
      buf += c;
      const line = buf.split('\n')[0];
      if (buf.includes('\n')) resolve(JSON.parse(line).port);
    });
    child.once('exit', (code) => reject(new Error(`proxy child exited ${code}`)));
  });
  return { name: 'test-proxy', port, child, stop: () => stopChild(child) };
}

async function startMicrosocks(user, pass) {
  const port = await freePort();
  const child = spawn('microsocks', ['-i', '127.0.0.1', '-p', String(port), '-u', user, '-P', pass], { stdio: 'ignore', detached: true });
  await waitForPort(port, child);
  return { name: 'microsocks', port, child, stop: () => stopChild(child) };
}

async function startDante(pass) {
  const user = `see-b${randomBytes(3).toString('hex')}`;
  if (spawnSync('useradd', ['-M', '-s', '/usr/sbin/nologin', user]).status !== 0) throw new Error('useradd failed');
  // SHA-512 crypt at its standard 5000 rounds: Debian's default yescrypt would cap dante at ~10 logins/s.
  spawnSync('chpasswd', ['-c', 'SHA512', '-s', '5000'], { input: `${user}:${pass}\n` });
  const dir = mkdtempSync(join(tmpdir(), 'see-bench-dante-'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'danted.conf'),
    `logoutput: /dev/null
internal: 127.0.0.1 port = ${port}
external: 127.0.0.1
socksmethod: username
clientmethod: none
user.privileged: root
user.unprivileged: nobody
client pass {
  from: 127.0.0.0/8 to: 0.0.0.0/0
}
socks pass {
  from: 127.0.0.0/8 to: 0.0.0.0/0
  command: connect
  socksmethod: username
}
`,
  );
  const child = spawn('danted', ['-f', join(dir, 'danted.conf'), '-p', join(dir, 'pid')], { stdio: 'ignore', detached: true });
  await waitForPort(port, child);
  return {
    name: 'dante-server',
    user,
    port,
    child,
    stop: async () => {
      await stopChild(child);
      spawnSync('userdel', [user]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** SOCKS5 client: greeting, RFC 1929 auth, CONNECT 127.0.0.1:port; resolves with the socket after the reply. */
function socksConnect(proxyPort, user, pass, dstPort, onData) {
  return new Promise((resolve, reject) => {
    const u = Buffer.from(user);
    const p = Buffer.from(pass);
    let stage = 0;
    let pending = Buffer.alloc(0);
    const need = [2, 2, 10];
    const readBuf = Buffer.allocUnsafe(256 * 1024);
    const s = net.connect({
      host: '127.0.0.1',
      port: proxyPort,
      noDelay: true,
      // One reusable read buffer: the client must not be the bottleneck.
      onread: {
        buffer: readBuf,
        callback: (n, buf) => {
          if (stage >= 3) {
            onData?.(n);
            return true;
          }
          pending = Buffer.concat([pending, buf.subarray(0, n)]);
          while (stage < 3 && pending.length >= need[stage]) {
            const msg = pending.subarray(0, need[stage]);
            pending = pending.subarray(need[stage]);
            if ((stage === 0 && msg[1] !== 0x02) || (stage === 1 && msg[1] !== 0x00) || (stage === 2 && msg[1] !== 0x00)) {
              s.destroy();
              reject(new Error(`handshake failed at stage ${stage}: ${msg.toString('hex')}`));
              return false;
            }
            stage++;
            if (stage === 1) s.write(Buffer.concat([Buffer.from([1, u.length]), u, Buffer.from([p.length]), p]));
            if (stage === 2) s.write(Buffer.from([5, 1, 0, 1, 127, 0, 0, 1, dstPort >> 8, dstPort & 0xff]));
            if (stage === 3) {
              if (pending.length) onData?.(pending.length);
              resolve(s);
            }
          }
          return true;
        },
      },
    });
    s.on('error', reject);
    s.once('connect', () => s.write(Buffer.from([5, 1, 2])));
  });
}

// ---- targets (in this process) ------------------------------------------------------------------------
const block = Buffer.alloc(1024 * 1024, 0x61);
/** Streams the requested number of bytes after a 1-byte trigger carrying nothing but "go". */
const source = net.createServer((s) => {
  s.on('error', () => {});
  s.once('data', () => {
    let left = streamBytes;
    const pump = () => {
      while (left > 0) {
        const chunk = left >= block.length ? block : block.subarray(0, left);
        left -= chunk.length;
        if (!s.write(chunk)) return s.once('drain', pump);
      }
      s.end();
    };
    pump();
  });
});
const sink = net.createServer((s) => {
  s.on('error', () => {});
  s.resume();
});
const echo = net.createServer((s) => {
  s.on('error', () => {});
  s.pipe(s);
});
let streamBytes = 0;
const sourcePort = await listen(source);
const sinkPort = await listen(sink);
const echoPort = await listen(echo);

// ---- measurements -------------------------------------------------------------------------------------
async function bulk(proxy, user, pass, totalGiB) {
  const streams = 2;
  streamBytes = Math.floor((totalGiB * GiB) / streams);
  const cpu0 = groupCpuSeconds(proxy.child.pid);
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: streams }, async () => {
      let got = 0;
      let done;
      const finished = new Promise((r) => (done = r));
      const s = await socksConnect(proxy.port, user, pass, sourcePort, (n) => {
        got += n;
        if (got >= streamBytes) done();
      });
      s.on('close', () => done());
      s.write('g');
      await finished;
      s.destroy();
      if (got < streamBytes) throw new Error(`${proxy.name}: stream ended after ${got} bytes`);
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  // Let the proxy finish its accounting of the last bytes.
  await new Promise((r) => setTimeout(r, 200));
  const cpu = groupCpuSeconds(proxy.child.pid) - cpu0;
  const gib = (streamBytes * streams) / GiB;
  return { gbps: (streamBytes * streams) / secs / 1e9, cpuPerGiB: cpu / gib, secs };
}

async function connRate(proxy, user, pass, total) {
  const concurrency = 16;
  let started = 0;
  let failed = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < total) {
        started++;
        try {
          const s = await socksConnect(proxy.port, user, pass, sinkPort);
          s.destroy();
        } catch {
          failed++;
        }
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return { perSec: (total - failed) / secs, failed };
}

async function concurrent(proxy, user, pass, n) {
  const sockets = [];
  const batch = 200;
  for (let i = 0; i < n; i += batch) {
    const got = await Promise.all(
      Array.from({ length: Math.min(batch, n - i) }, async () => {
        let echoed = 0;
        let done;
        const back = new Promise((r) => (done = r));
        const s = await socksConnect(proxy.port, user, pass, echoPort, (k) => {
          echoed += k;
          if (echoed >= 4096) done();
        });
        s.write(Buffer.alloc(4096, 1));
        await back;
        return s;
      }),
    );
    sockets.push(...got);
  }
  const rss = peakRssMiB(proxy.child.pid);
  for (const s of sockets) s.destroy();
  return { open: sockets.length, peakRssMiB: rss };
}

// ---- run ------------------------------------------------------------------------------------------------
const totalGiB = Number(process.env.SEE_BENCH_GIB ?? 2);
const conns = Number(process.env.SEE_BENCH_CONNS ?? 4000);
const RUNS = runsFrom(process.env.SEE_BENCH_RUNS);
const CONCURRENT = Number(process.env.SEE_BENCH_CONCURRENT ?? 5000);
const pass = randomBytes(8).toString('hex');
const fmt = (n, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

// Every proxy started is stopped on the way out, also when the runner stops this bench (SIGTERM).
const running = new Set();
const track = async (start) => {
  const p = await start();
  running.add(p);
  const stop = p.stop;
  p.stop = async () => {
    running.delete(p);
    await stop();
  };
  return p;
};
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.once(sig, () => {
    console.log(`test-proxy benchmark: ${sig}, stopping ${running.size} proxies`);
    void Promise.allSettled([...running].map((p) => p.stop())).finally(() => process.exit(130));
  });
}

/** @typedef {{ name: string, port: number, user?: string, stop: () => Promise<unknown> }} Contender */
/** @type {[name: string, start: () => Promise<Contender>, userName: string | undefined][]} */
const contenders = [['test-proxy', () => startOurs('bench', pass), 'bench']];
if (has('danted') && isRoot) contenders.push(['dante-server', () => startDante(pass), undefined]);
else console.log(`dante-server: skipped (${has('danted') ? 'needs root for a system user' : 'not installed'})`);
if (has('microsocks')) contenders.push(['microsocks', () => startMicrosocks('bench', pass), 'bench']);
else console.log('microsocks: skipped (not installed)');

const only = process.env.SEE_BENCH_ONLY;
/** @type {{ name: string, proxy: Contender, user: string | undefined, bulk: { gbps: number, cpuPerGiB: number, secs: number }[], rate: number[], failed: number, dead: boolean }[]} */
const active = [];
for (const [name, start, userName] of contenders) {
  if (only && !only.split(',').includes(name)) continue;
  try {
    const proxy = await track(start);
    active.push({ name, proxy, user: userName ?? proxy.user, bulk: [], rate: [], failed: 0, dead: false });
  } catch (err) {
    console.log(`${name}: failed to start: ${err instanceof Error ? err.message : err}`);
  }
}
console.log(`${RUNS} runs per figure, ${totalGiB} GiB per bulk run, ${conns} handshakes per rate run; contenders ${active.map((c) => c.name).join(', ')}`);

/** Runs `fn` for a contender; a failure is printed and takes the contender out of the later runs. */
async function attempt(c, what, fn) {
  if (c.dead) return;
  try {
    await fn();
  } catch (err) {
    console.log(`${c.name}: ${what} failed: ${err instanceof Error ? err.message : err}`);
    c.dead = true;
  }
}

for (const c of active) await attempt(c, 'warm-up', () => bulk(c.proxy, c.user, pass, 0.25)); // JIT, socket buffers
for (let r = 0; r < RUNS; r++) {
  for (const c of active) await attempt(c, `bulk run ${r + 1}`, async () => c.bulk.push(await bulk(c.proxy, c.user, pass, totalGiB)));
}
for (let r = 0; r < RUNS; r++) {
  for (const c of active) {
    await attempt(c, `rate run ${r + 1}`, async () => {
      const tw = await drainTimeWait();
      const x = await connRate(c.proxy, c.user, pass, conns);
      c.rate.push(x.perSec);
      c.failed += x.failed;
      console.log(`  rate run ${r + 1} ${c.name.padEnd(13)} ${fmt(x.perSec, 0)} new conn/s (TIME_WAIT before: ${tw})${x.failed ? `, ${x.failed} failed` : ''}`);
    });
  }
}
for (const c of active) await c.proxy.stop();

// Peak RSS with 5,000 concurrent relayed connections: a fresh process per run (VmHWM only grows).
/** @type {Record<string, number[]>} */
const rss = { 'test-proxy': [], microsocks: [] };
/** @type {Record<string, number[]>} */
const open = { 'test-proxy': [], microsocks: [] };
const wantsRss = (name) => (!only || only.split(',').includes(name)) && contenders.some(([n]) => n === name);
if (process.env.SEE_BENCH_SKIP_CONCURRENT !== '1' && wantsRss('test-proxy')) {
  const rssContenders = contenders.filter(([name]) => name in rss && wantsRss(name));
  for (let r = 0; r < RUNS; r++) {
    for (const [name, start, userName] of rssContenders) {
      const tw = await drainTimeWait();
      let proxy;
      try {
        proxy = await track(start);
        const x = await concurrent(proxy, userName ?? proxy.user, pass, CONCURRENT);
        rss[name].push(x.peakRssMiB * 1.048576);
        open[name].push(x.open);
        console.log(`  ${CONCURRENT} concurrent run ${r + 1} ${name.padEnd(13)} ${x.open} open, peak RSS ${fmt(x.peakRssMiB, 1)} MiB (TIME_WAIT before: ${tw})`);
      } catch (err) {
        console.log(`${name}: ${CONCURRENT} concurrent connections failed: ${err instanceof Error ? err.message : err}`);
      } finally {
        await proxy?.stop();
      }
    }
  }
}

// ---- figures and targets --------------------------------------------------------------------------------
const results = {};
for (const c of active) {
  const gbps = c.bulk.map((b) => b.gbps);
  const cpu = c.bulk.map((b) => b.cpuPerGiB);
  results[c.name] = { gbps: median(gbps), cpuPerGiB: median(cpu), perSec: median(c.rate), failed: c.failed, runs: { gbps, cpuPerGiB: cpu, perSec: c.rate } };
  if (!gbps.length) continue;
  console.log(`${c.name.padEnd(13)} bulk ${spread(gbps, (x) => `${fmt(x)} GB/s`)}`);
  console.log(`${''.padEnd(13)} ${spread(cpu, (x) => fmt(x, 3))} CPU-s/GiB`);
  if (c.rate.length) console.log(`${''.padEnd(13)} ${spread(c.rate, (x) => fmt(x, 0))} new conn/s (user/pass)${c.failed ? `, ${c.failed} failed` : ''}`);
}
if (rss['test-proxy'].length) {
  results['test-proxy'].concurrent = { open: Math.min(...open['test-proxy']), peakRssMB: median(rss['test-proxy']), runs: rss['test-proxy'] };
  console.log(`test-proxy    ${CONCURRENT} concurrent relayed connections: peak RSS ${spread(rss['test-proxy'], (x) => `${fmt(x, 1)} MB`)} (target < 300 MB)`);
}
if (rss.microsocks.length) console.log(`microsocks    ${CONCURRENT} concurrent relayed connections: peak RSS ${spread(rss.microsocks, (x) => `${fmt(x, 1)} MB`)}`);

const byName = Object.fromEntries(active.map((c) => [c.name, c]));
const ours = byName['test-proxy'];
/** Per-run ratios of ours to `other` for a series (pairs of the same run). */
const pairRatios = (other, get) => {
  const n = Math.min(get(ours).length, get(other).length);
  return ratios(get(ours).slice(0, n), get(other).slice(0, n));
};
const gbpsOf = (c) => c.bulk.map((b) => b.gbps);
const cpuOf = (c) => c.bulk.map((b) => b.cpuPerGiB);
const rateOf = (c) => c.rate;
const x = (r) => `${fmt(median(r))}x`;
/**
 * @param {any} other
 * @param {string} label
 * @param {(c: any) => number[]} get
 * @param {string} unit
 * @param {{ target: string, ok: (v: number) => boolean, figureName: string } | { target?: undefined, ok?: undefined, figureName: string }} options
 */
const compare = (other, label, get, unit, { target, ok, figureName }) => {
  const r = pairRatios(other, get);
  const name = `${label} vs ${other.name}`;
  console.log(`ratio vs ${other.name}: ${label} ${spread(r, (v) => `${fmt(v)}x`)}`);
  const data = { figure: figureName, samples: get(ours), unit, baseline: { name: other.name, samples: get(other), unit }, ratio: r, target };
  if (target !== undefined) verdict(`${label} ${target}`, r.length > 0 && ok(median(r)), `median ratio ${x(r)}`, data);
  else figure(name, data);
};
const have = (c, get) => c && !c.dead && get(c).length > 0;
const oursOk = have(ours, gbpsOf);
const dante = byName['dante-server'];
const micro = byName['microsocks'];
/** @type {[label: string, get: (c: any) => number[], unit: string, target: string, ok: (v: number) => boolean, figureName: string][]} */
const danteTargets = [
  ['CPU-s/GiB', cpuOf, 'CPU-s/GiB', '≤ 1.1×', (v) => v <= 1.1, 'test-proxy CPU-seconds per GiB relayed'],
  ['throughput', gbpsOf, 'GB/s', '≥ 0.8×', (v) => v >= 0.8, 'test-proxy bulk throughput (2 streams)'],
  ['new conn/s', rateOf, '/s', '≥ 1.0×', (v) => v >= 1 && ours.failed === 0, 'test-proxy new connections/s (user/pass)'],
];
for (const [label, get, unit, target, ok, figureName] of danteTargets) {
  if (oursOk && have(dante, get) && have(ours, get)) compare(dante, label, get, unit, { target: `${target} dante-server`, ok, figureName });
  else skipped(`${label} ${target} dante-server`, dante ? 'dante-server or test-proxy runs failed' : `dante-server not measured (${has('danted') ? (isRoot ? 'not selected' : 'needs root') : 'not installed'})`);
}
if (oursOk && have(micro, gbpsOf)) {
  compare(micro, 'throughput', gbpsOf, 'GB/s', { target: '≥ 2× microsocks', ok: (v) => v >= 2, figureName: 'test-proxy bulk throughput (2 streams)' });
  compare(micro, 'CPU-s/GiB', cpuOf, 'CPU-s/GiB', { figureName: 'test-proxy CPU-seconds per GiB relayed' });
  if (have(micro, rateOf) && have(ours, rateOf)) compare(micro, 'new conn/s', rateOf, '/s', { figureName: 'test-proxy new connections/s (user/pass)' });
} else skipped('throughput vs microsocks ≥ 2×', micro ? 'microsocks or test-proxy runs failed' : 'microsocks not measured');
if (rss['test-proxy'].length) {
  const peak = median(rss['test-proxy']);
  const allOpen = open['test-proxy'].every((n) => n === CONCURRENT);
  verdict(`peak RSS at ${CONCURRENT.toLocaleString('en-US')} connections < 300 MB`, allOpen && peak < 300, `median ${fmt(peak, 1)} MB${allOpen ? '' : `, only ${Math.min(...open['test-proxy'])} open`}`, {
    figure: `test-proxy peak RSS, ${CONCURRENT.toLocaleString('en-US')} concurrent relayed connections`,
    samples: rss['test-proxy'],
    unit: 'MB',
    baseline: rss.microsocks.length ? { name: `microsocks, same ${CONCURRENT.toLocaleString('en-US')} connections`, samples: rss.microsocks } : undefined,
    target: '< 300 MB',
  });
} else if (process.env.SEE_BENCH_SKIP_CONCURRENT === '1' || !wantsRss('test-proxy')) skipped(`peak RSS at ${CONCURRENT.toLocaleString('en-US')} connections < 300 MB`, 'not selected (SEE_BENCH_SKIP_CONCURRENT / SEE_BENCH_ONLY)');
else skipped(`peak RSS at ${CONCURRENT.toLocaleString('en-US')} connections < 300 MB`, 'every run failed');
console.log(JSON.stringify({ bench: 'test-proxy', results }));
source.close();
sink.close();
echo.close();
process.exit(0);
