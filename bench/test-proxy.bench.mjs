// Benchmarks the embedded SOCKS5 test proxy against dante-server and microsocks, all measured in this
// run on loopback: CPU-seconds per GiB relayed (the stable figure on a noisy machine), bulk throughput,
// new connections/s with username/password auth, and peak RSS with 5,000 concurrent relayed connections.
// Each proxy runs in its own process so its CPU and memory can be read from /proc.
// Env: SEE_BENCH_GIB (GiB per bulk run, default 2), SEE_BENCH_CONNS (handshakes per rate run, default 4000).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

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

function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }, 3000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    try {
      process.kill(-child.pid, 'SIGTERM'); // the whole group (dante forks)
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
const pass = randomBytes(8).toString('hex');
const results = {};
const fmt = (n, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

const contenders = [['test-proxy', () => startOurs('bench', pass), 'bench']];
if (has('danted') && isRoot) contenders.push(['dante-server', () => startDante(pass), undefined]);
else console.log(`dante-server: skipped (${has('danted') ? 'needs root for a system user' : 'not installed'})`);
if (has('microsocks')) contenders.push(['microsocks', () => startMicrosocks('bench', pass), 'bench']);
else console.log('microsocks: skipped (not installed)');

const only = process.env.SEE_BENCH_ONLY;
for (const [name, start, userName] of contenders) {
  if (only && !only.split(',').includes(name)) continue;
  const proxy = await start();
  const user = userName ?? proxy.user;
  try {
    await bulk(proxy, user, pass, 0.25); // warm-up (JIT, socket buffers)
    const b = await bulk(proxy, user, pass, totalGiB);
    const c = await connRate(proxy, user, pass, conns);
    results[name] = { ...b, ...c };
    if (name === 'test-proxy' && process.env.SEE_BENCH_SKIP_CONCURRENT !== '1') results[name].concurrent = await concurrent(proxy, user, pass, 5000);
    console.log(
      `${name.padEnd(13)} bulk ${fmt(b.gbps)} GB/s, ${fmt(b.cpuPerGiB, 3)} CPU-s/GiB; ${fmt(c.perSec, 0)} new conn/s (user/pass)${c.failed ? `, ${c.failed} failed` : ''}`,
    );
  } catch (err) {
    console.log(`${name}: failed: ${err.message}`);
  } finally {
    await proxy.stop();
  }
}

const ours = results['test-proxy'];
const dante = results['dante-server'];
const micro = results['microsocks'];
if (ours?.concurrent) console.log(`test-proxy    ${ours.concurrent.open} concurrent relayed connections: peak RSS ${fmt(ours.concurrent.peakRssMiB, 1)} MiB (target < 300 MB)`);
const verdict = (ok) => (ok ? 'ok' : 'MISSED');
if (ours && dante) {
  const cpuRatio = ours.cpuPerGiB / dante.cpuPerGiB;
  const tputRatio = ours.gbps / dante.gbps;
  const connRatio = ours.perSec / dante.perSec;
  console.log(`ratio vs dante-server: CPU-s/GiB ${fmt(cpuRatio)}x (target <= 1.1) ${verdict(cpuRatio <= 1.1)}`);
  console.log(`ratio vs dante-server: throughput ${fmt(tputRatio)}x (target >= 0.8) ${verdict(tputRatio >= 0.8)}`);
  console.log(`ratio vs dante-server: new conn/s ${fmt(connRatio)}x (target >= 1.0) ${verdict(connRatio >= 1)}`);
}
if (ours && micro) {
  const r = ours.gbps / micro.gbps;
  console.log(`ratio vs microsocks: throughput ${fmt(r)}x (target >= 2) ${verdict(r >= 2)}`);
}
if (ours?.concurrent) console.log(`peak RSS at 5,000 connections: ${verdict(ours.concurrent.peakRssMiB * 1.048576 < 300)}`);
console.log(JSON.stringify({ bench: 'test-proxy', results }));
source.close();
sink.close();
echo.close();
process.exit(0);
