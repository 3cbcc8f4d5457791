// @ts-check
// Transparent interception plumbing (root namespace backend), importing the built code (npm run build):
//  - sandbox namespace creation, median (target < 200 ms); baseline: a bare `ip netns add` + delete.
//  - `exec(['true'])` round trip inside a sandbox, median (the contexts API's floor; target < 50 ms).
//  - original-destination lookup with 5,000 open sandbox flows, median per new connection
//    (target < 1 ms); baseline in the same run: one read of /proc/<pid>/net/nf_conntrack (the
//    table-scan method) with the same flows open.
// Needs root (or CAP_NET_ADMIN) and ip/nft/conntrack; prints why and exits 0 otherwise. Every
// destination is in 198.18.0.0/15 and never leaves the gateway namespace. Every loop is bounded.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { detectRootlessBackend, detectTransparentSupport } from '../dist/interception/transparent/detect.js';
import { createRootNamespaceBackend } from '../dist/interception/transparent/root-backend.js';
import { createRootlessNamespaceBackend } from '../dist/interception/transparent/rootless-backend.js';
import { parseConntrackLine } from '../dist/interception/transparent/conntrack-line.js';
import { median, pct, skipped, spread, verdict } from './lib/stats.mjs';

const TARGETS = {
  create: 'sandbox create, median < 200 ms',
  exec: 'exec(true) in the sandbox, median < 50 ms',
  rootlessCreate: 'rootless sandbox create, median < 200 ms',
  rootlessExec: 'rootless exec(true) in the sandbox, median < 50 ms',
  origDst: 'original destination with 5,000 flows open, median < 1 ms',
};
const support = await detectTransparentSupport();
if (!support.ok) {
  console.log(`transparent benchmark skipped: ${support.reason}`);
  for (const name of Object.values(TARGETS)) skipped(name, support.reason);
  process.exit(0);
}

const fmt = (ms) => `${ms.toFixed(3)} ms`;
const line = (name, value, extra = '') => console.log(`${name.padEnd(58)} ${value.padStart(12)}  ${extra}`);

const flows = 5_000;
const createRuns = 30;
const execRuns = 30;

const backend = createRootNamespaceBackend({ dns: { lookup: () => undefined } });
let failed = false;
try {
  await backend.start();

  // --- sandbox creation vs a bare namespace ---------------------------------------------------
  const bare = [];
  for (let i = 0; i < createRuns; i++) {
    const name = `see-${backend.instanceId}-bench`;
    const t = performance.now();
    execFileSync('ip', ['netns', 'add', name]);
    bare.push(performance.now() - t);
    execFileSync('ip', ['netns', 'delete', name]);
  }
  const creates = [];
  for (let i = 0; i < createRuns; i++) {
    const t = performance.now();
    await backend.createSandbox(`c${i}`);
    creates.push(performance.now() - t);
  }
  for (let i = 0; i < createRuns; i++) await backend.deleteSandbox(`c${i}`);
  line('sandbox create, median (target < 200 ms)', fmt(median(creates)), `p90 ${fmt(pct(creates, 0.9))}`);
  line('baseline: bare `ip netns add`, median', fmt(median(bare)), `ratio ${(median(creates) / median(bare)).toFixed(1)}x`);
  console.log(`  sandbox create ${spread(creates, fmt)}; bare ${spread(bare, fmt)}`);
  verdict(TARGETS.create, median(creates) < 200, fmt(median(creates)), {
    figure: 'sandbox namespace create (root backend)',
    samples: creates,
    unit: 'ms',
    baseline: { name: 'bare `ip netns add`', samples: bare },
    target: '< 200 ms',
  });

  // --- exec round trip ---------------------------------------------------------------------------
  await backend.createSandbox('bench');
  const execs = [];
  for (let i = 0; i < execRuns; i++) {
    const t = performance.now();
    const r = await backend.exec('bench', ['true']);
    execs.push(performance.now() - t);
    if (r.exitCode !== 0) throw new Error(`true exited with ${r.exitCode}`);
  }
  const hostTrue = [];
  for (let i = 0; i < execRuns; i++) {
    const t = performance.now();
    execFileSync('true');
    hostTrue.push(performance.now() - t);
  }
  line('exec(true) in the sandbox, median (target < 50 ms)', fmt(median(execs)), `p90 ${fmt(pct(execs, 0.9))}`);
  line('baseline: `true` on the host (execFileSync), median', fmt(median(hostTrue)), `ratio ${(median(execs) / median(hostTrue)).toFixed(1)}x`);
  console.log(`  exec ${spread(execs, fmt)}; host ${spread(hostTrue, fmt)}`);
  verdict(TARGETS.exec, median(execs) < 50, fmt(median(execs)), {
    figure: 'exec([\'true\']) round trip in a sandbox',
    samples: execs,
    unit: 'ms',
    baseline: { name: '`true` on the host (execFileSync)', samples: hostTrue },
    target: '< 50 ms',
  });

  // --- original destination with 5,000 open flows ---------------------------------------------
  // Phase 1 opens `flows` connections in bursts and holds them; phase 2 measures new connections
  // made one at a time while they are open (the figure with the target).
  const phase = { name: 'burst', lookups: { burst: [], steady: [] }, missing: { burst: 0, steady: 0 } };
  const accepted = [];
  let expected = flows;
  let reached;
  let reachedP = new Promise((resolve) => (reached = resolve));
  backend.tcpServer.on('connection', (socket) => {
    socket.on('error', () => socket.destroy());
    accepted.push(socket);
    const t = performance.now();
    const into = phase.name;
    void backend.originalDestination(socket).then((d) => {
      phase.lookups[into].push(performance.now() - t);
      if (!d) phase.missing[into]++;
      if (phase.lookups[into].length === expected) reached();
      if (into === 'steady') socket.end('k'); // lets the client open the next one
    });
  });
  const holder = backend.exec('bench', [
    process.execPath,
    '-e',
    `const net=require('net');const N=${flows};const held=[];let opened=0;
     function batch(){const n=Math.min(250,N-opened);let done=0;for(let i=0;i<n;i++){const k=opened+i;
       const s=net.connect(1024+(k%50000),'198.18.'+(1+(k>>8)%200)+'.'+(k&255));held.push(s);
       s.on('error',()=>{});s.on('connect',()=>{if(++done===n){opened+=n;if(opened<N)batch()}})}}
     batch();setTimeout(()=>process.exit(1),120000);`,
  ]);
  let guard = setTimeout(() => reached(), 120_000);
  await reachedP;
  clearTimeout(guard);

  const steadyRuns = 300;
  phase.name = 'steady';
  expected = steadyRuns;
  reachedP = new Promise((resolve) => (reached = resolve));
  const stepper = backend.exec('bench', [
    process.execPath,
    '-e',
    `const net=require('net');let i=0;function next(){if(i>=${steadyRuns})return process.exit(0);const k=i++;
     const s=net.connect(443,'198.19.'+(k>>8)+'.'+(k&255));s.on('data',()=>{});s.on('error',()=>next());s.on('close',()=>next())}
     next();setTimeout(()=>process.exit(1),60000);`,
  ]);
  guard = setTimeout(() => reached(), 60_000);
  await reachedP;
  clearTimeout(guard);
  await stepper;

  // Baseline: one /proc table read + parse with the same flows open (the table-scan method).
  const { helper } = backend.processIds;
  const scans = [];
  let tableEntries = 0;
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    const text = readFileSync(`/proc/${helper}/net/nf_conntrack`, 'utf8');
    let n = 0;
    for (const l of text.split('\n')) if (parseConntrackLine(l)) n++;
    scans.push(performance.now() - t);
    tableEntries = n;
  }
  const { burst, steady } = phase.lookups;
  line(`original destination, new flow with ${flows} open, median (target < 1 ms)`, fmt(median(steady)), `p99 ${fmt(pct(steady, 0.99))}, missing ${phase.missing.steady}/${steady.length}`);
  line(`original destination during the ${flows}-flow burst, median`, fmt(median(burst)), `p99 ${fmt(pct(burst, 0.99))}, missing ${phase.missing.burst}/${burst.length}`);
  line(`baseline: /proc nf_conntrack read+parse (${tableEntries} entries)`, fmt(median(scans)), `ratio ${(median(scans) / median(steady)).toFixed(0)}x slower`);
  console.log('original destination stats', JSON.stringify(backend.originalDestinationStats()));
  if (burst.length < flows || steady.length < steadyRuns || phase.missing.burst + phase.missing.steady > 0) failed = true;
  console.log(`  new flow ${spread(steady, fmt)}; /proc scan ${spread(scans, fmt)}`);
  verdict(TARGETS.origDst, steady.length >= 5 && phase.missing.steady === 0 && median(steady) < 1, `${fmt(median(steady))}, missing ${phase.missing.steady}/${steady.length}`, {
    figure: `original destination, new flow with ${flows} open (root backend)`,
    samples: steady,
    unit: 'ms',
    baseline: { name: `/proc nf_conntrack read+parse (${tableEntries} entries)`, samples: scans },
    target: '< 1 ms',
  });

  holder.kill('SIGKILL');
  await holder;
  for (const s of accepted) s.destroy();
} catch (err) {
  console.log(`transparent benchmark failed: ${err instanceof Error ? err.message : err}`);
  failed = true;
} finally {
  await backend.stop();
}

// --- the rootless backend: the same create and exec figures (a user namespace of our own) ---------
const rootless = await detectRootlessBackend();
if (!rootless.ok) {
  console.log(`rootless figures skipped: ${rootless.reason}`);
  skipped(TARGETS.rootlessCreate, rootless.reason);
  skipped(TARGETS.rootlessExec, rootless.reason);
} else {
  const rl = createRootlessNamespaceBackend({ dns: { lookup: () => undefined } });
  try {
    await rl.start();
    const creates = [];
    for (let i = 0; i < createRuns; i++) {
      const t = performance.now();
      await rl.createSandbox(`c${i}`);
      creates.push(performance.now() - t);
    }
    for (let i = 0; i < createRuns; i++) await rl.deleteSandbox(`c${i}`);
    line('rootless sandbox create, median (target < 200 ms)', fmt(median(creates)), `p90 ${fmt(pct(creates, 0.9))}`);
    verdict(TARGETS.rootlessCreate, median(creates) < 200, fmt(median(creates)), { figure: 'sandbox namespace create (rootless backend)', samples: creates, unit: 'ms', target: '< 200 ms' });
    await rl.createSandbox('bench');
    const execs = [];
    for (let i = 0; i < execRuns; i++) {
      const t = performance.now();
      const r = await rl.exec('bench', ['true']);
      execs.push(performance.now() - t);
      if (r.exitCode !== 0) throw new Error(`true exited with ${r.exitCode}: ${r.stderr}`);
    }
    line('rootless exec(true) in the sandbox, median (target < 50 ms)', fmt(median(execs)), `p90 ${fmt(pct(execs, 0.9))}`);
    verdict(TARGETS.rootlessExec, median(execs) < 50, fmt(median(execs)), { figure: "exec(['true']) round trip in a sandbox (rootless backend)", samples: execs, unit: 'ms', target: '< 50 ms' });
  } catch (err) {
    console.log(`rootless transparent benchmark failed: ${err instanceof Error ? err.message : err}`);
    failed = true;
  } finally {
    await rl.stop();
  }
}
process.exit(failed ? 1 : 0);
