// @ts-check
// Control-plane benchmarks (issue: control plane).
//  1. `start` of the built bin to ready (ready file written), --ephemeral; baseline: a bare Node
//     process that listens on a port and writes a ready file. Target: median < 300 ms.
//  2. PUT network + GET network round trips per second; baseline: GET /healthz on the same server.
//     Target: >= 2,000 PUT+GET pairs per second.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { figure, median, runsFrom, verdict } from './lib/stats.mjs';

const isRoot = process.getuid?.() === 0;

const bin = fileURLToPath(new URL('../dist/bin/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'see-bench-'));
// Env: CONTROL_PLANE_BENCH_RUNS (start → ready runs, default 15, at least 5).
const RUNS = runsFrom(process.env.CONTROL_PLANE_BENCH_RUNS, 15);

const fmt = (xs) => `median ${median(xs).toFixed(1)} ms (min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)}, n=${xs.length})`;

/** Spawns, resolves with ms until stdout contains `marker`, then kills the child and waits for it. */
function timeToMarker(args, marker) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    let elapsed;
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout.on('data', (b) => {
      out += b;
      if (elapsed === undefined && out.includes(marker)) {
        elapsed = performance.now() - t0;
        child.kill('SIGTERM');
      }
    });
    child.on('exit', () => {
      clearTimeout(timer);
      if (elapsed === undefined) reject(new Error(`no "${marker}" in output: ${out}`));
      else resolve(elapsed);
    });
  });
}

const bareServer = `
const fs = require('fs');
const s = require('http').createServer((q, r) => r.end('ok'));
s.listen(0, '127.0.0.1', () => { fs.writeFileSync(process.argv[1], JSON.stringify({ port: s.address().port })); console.log('READY'); });
process.on('SIGTERM', () => s.close(() => process.exit(0)));
`;

async function startupBench() {
  const bare = [];
  const ours = [];
  const transparent = [];
  // The control plane's start-up is measured in explicit mode; as root, `auto` also builds the
  // gateway namespace (figure below, no target of its own: issue 6 sets the per-sandbox ones).
  const startArgs = (i, mode) => [bin, 'start', '--ephemeral', '--port', '0', '--interception', mode, '--ready-file', join(dir, `ready-${mode}-${i}.json`), '--log-level', 'silent'];
  for (let i = 0; i < RUNS; i++) {
    bare.push(await timeToMarker(['-e', bareServer, join(dir, `bare-${i}.json`)], 'READY'));
    ours.push(await timeToMarker(startArgs(i, 'explicit'), 'SANDBOX0_TOKEN='));
    if (isRoot && i < 5) transparent.push(await timeToMarker(startArgs(i, 'auto'), 'SANDBOX0_TOKEN='));
  }
  if (transparent.length) {
    console.log(`start → ready, --interception auto as root (gateway namespace): ${fmt(transparent)}`);
    figure('start → ready, --interception auto as root (builds the gateway namespace)', { samples: transparent, unit: 'ms', baseline: { name: 'bare node process listening', samples: bare } });
  }
  console.log(`start → ready (built bin, --ephemeral, explicit): ${fmt(ours)}`);
  console.log(`baseline bare node listen:              ${fmt(bare)}`);
  console.log(`ratio: ${(median(ours) / median(bare)).toFixed(2)}× the bare process; target < 300 ms median: ${median(ours) < 300 ? 'MET' : 'MISSED'}`);
  verdict('start → ready, median < 300 ms', median(ours) < 300, `median ${median(ours).toFixed(1)} ms, ${(median(ours) / median(bare)).toFixed(2)}× a bare node listen`, {
    figure: 'start → ready (built bin, --ephemeral, --interception explicit)',
    samples: ours,
    unit: 'ms',
    baseline: { name: 'bare node process listening', samples: bare },
    target: '< 300 ms',
  });
}

async function roundTripBench() {
  const readyFile = join(dir, 'rt-ready.json');
  const child = spawn(process.execPath, [bin, 'start', '--ephemeral', '--port', '0', '--ready-file', readyFile, '--log-level', 'silent'], { stdio: ['ignore', 'pipe', 'ignore'] });
  await /** @type {Promise<void>} */ (new Promise((resolve) => {
    let out = '';
    child.stdout.on('data', (b) => {
      out += b;
      if (out.includes('SANDBOX0_TOKEN=')) resolve();
    });
  }));
  try {
    const { apiUrl, token } = JSON.parse(readFileSync(readyFile, 'utf8'));
    // A keep-alive node:http client: fetch (undici) costs more CPU per request than the server does,
    // and on 2 cores the client would be what is measured.
    const url = new URL(apiUrl);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const request = (method, path, body) =>
      new Promise((resolve, reject) => {
        const req = http.request(
          { host: url.hostname, port: url.port, method, path, agent, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(body ? { 'content-length': Buffer.byteLength(body) } : {}) } },
          (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    const claim = await request('POST', '/api/v1/sandboxes', '{"template":"default"}');
    const id = JSON.parse(claim.body).data.sandbox_id;
    const policy = JSON.stringify({
      mode: 'block-all',
      egress: {
        trafficRules: [{ name: 'allow-private-api', action: 'allow', domains: ['api.internal.example.com'], ports: [{ port: 443, protocol: 'tcp' }], appProtocols: ['tls'] }],
        proxy: { type: 'socks5', address: 'proxy.example.com:1080' },
      },
    });
    const measure = async (label, op, seconds = 5, concurrency = 8) => {
      // Warm-up (JIT, lazily loaded decoders, SQLite statement caches) is not measured.
      const warmEnd = performance.now() + 1000;
      await Promise.all(Array.from({ length: concurrency }, async () => { while (performance.now() < warmEnd) await op(); }));
      const runs = [];
      for (let r = 0; r < 5; r++) {
        let n = 0;
        const end = performance.now() + (seconds * 1000) / 5;
        await Promise.all(
          Array.from({ length: concurrency }, async () => {
            while (performance.now() < end) {
              await op();
              n++;
            }
          }),
        );
        runs.push(n / (seconds / 5));
      }
      console.log(`${label}: median ${median(runs).toFixed(0)}/s (min ${Math.min(...runs).toFixed(0)}, max ${Math.max(...runs).toFixed(0)}, 5 runs)`);
      return runs;
    };
    const pairRuns = await measure('PUT network + GET network pairs', async () => {
      const put = await request('PUT', `/api/v1/sandboxes/${id}/network`, policy);
      if (put.status !== 200) throw new Error(`PUT ${put.status}`);
      const get = await request('GET', `/api/v1/sandboxes/${id}/network`);
      if (get.status !== 200) throw new Error(`GET ${get.status}`);
    });
    const healthRuns = await measure('baseline GET /healthz', async () => {
      await request('GET', '/healthz');
    });
    const pairs = median(pairRuns);
    const health = median(healthRuns);
    console.log(`ratio: PUT+GET pairs/s = ${(pairs / health).toFixed(2)}× healthz/s; target >= 2,000 pairs/s: ${pairs >= 2000 ? 'MET' : 'MISSED'}`);
    verdict('PUT + GET network pairs ≥ 2,000/s', pairs >= 2000, `median ${pairs.toFixed(0)}/s, ${(pairs / health).toFixed(2)}× GET /healthz`, {
      figure: 'PUT network + GET network pairs (8 in flight)',
      samples: pairRuns,
      unit: '/s',
      baseline: { name: 'GET /healthz on the same server', samples: healthRuns },
      target: '≥ 2,000/s',
    });
    agent.destroy();
  } finally {
    child.kill('SIGTERM');
  }
}

try {
  await startupBench();
  await roundTripBench();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
