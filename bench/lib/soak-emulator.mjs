// @ts-check
// The emulator under soak, alone in a child process so its descriptors and memory are its own: the
// built library (`startEmulator`, dist/), explicit interception, state in a fresh data dir (so audit
// events live on disk, not in the heap), logs at `warn` and above on stderr as JSON lines. Everything
// the soak does to it goes through its HTTP API; the IPC channel only answers the questions the API
// cannot: {id, op: 'mem'} (after a forced GC when the child runs with --expose-gc), {id, op: 'state'}
// (flows in progress, resources by type), {id, op: 'loop-delay'} (event-loop delay since the last
// call) and {id, op: 'stop'}. With SEE_SOAK_HEAP_SNAPSHOT_DIR set, {id, op: 'heap-snapshot'} writes one
// there (diagnosis).
// Usage: node --expose-gc bench/lib/soak-emulator.mjs '{"token","username","password","proxyTimeoutMs"?,"sqliteCacheKb"?}'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { answerParent } from './ipc-child.mjs';

const { startEmulator } = await import('../../dist/emulator.js');
const { emulatorInternals } = await import('../../dist/internals.js');
const { createLogger } = await import('../../dist/log.js');

const { token, username, password, proxyTimeoutMs, sqliteCacheKb } = JSON.parse(process.argv[2] ?? '{}');
const dataDir = mkdtempSync(join(tmpdir(), 'see-soak-'));
const logger = createLogger({ level: process.env.SEE_SOAK_CHILD_LOG_LEVEL ?? 'warn' });
const emu = await startEmulator({
  ephemeral: false,
  dataDir,
  port: 0,
  token,
  interception: 'explicit',
  testProxy: { users: [{ username, password }] },
  logger,
  ...(proxyTimeoutMs ? { gatewayTimeouts: { proxyMs: proxyTimeoutMs } } : {}),
}).catch((err) => {
  rmSync(dataDir, { recursive: true, force: true });
  throw err;
});
// A smaller SQLite page cache than the driver's build default (16 MB), so that the bounded cache is
// full after the warm-up instead of growing with the audit table for the first minutes.
const { store, gateway, credentials } = emulatorInternals(emu);
if (sqliteCacheKb) store.db.pragma(`cache_size = -${Number(sqliteCacheKb)}`);

const statusKb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN);
const countBy = (xs) => xs.reduce((acc, x) => ((acc[x] = (acc[x] ?? 0) + 1), acc), {});
const state = () => ({
  activeFlows: gateway.activeFlows(),
  udpSessions: gateway.udp.sessions(),
  credentialCache: credentials.size(),
  resources: countBy(process.getActiveResourcesInfo()),
});

// How late the event loop runs: when the emulator itself stalls, every flow waits.
const loopResolutionMs = 10;
const loopDelay = monitorEventLoopDelay({ resolution: loopResolutionMs });
loopDelay.enable();

let stopping;
const stop = () =>
  (stopping ??= (async () => {
    await emu.stop();
    rmSync(dataDir, { recursive: true, force: true });
  })());

const ops = {
  mem: () => {
    // A memory-reducing full collection (V8's "last resort" flavor hands unused heap pages back),
    // then a regular one for what finalizers of the first released.
    if (globalThis.gc) {
      globalThis.gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
      globalThis.gc();
    }
    const m = process.memoryUsage();
    return { gc: Boolean(globalThis.gc), rssKb: statusKb('VmRSS'), hwmKb: statusKb('VmHWM'), rssAnonKb: statusKb('RssAnon'), heapUsedKb: Math.round(m.heapUsed / 1024), heapTotalKb: Math.round(m.heapTotal / 1024), externalKb: Math.round(m.external / 1024), arrayBuffersKb: Math.round(m.arrayBuffers / 1024), ...state() };
  },
  state,
  'loop-delay': () => {
    // Since the previous call, in ms: how much later than its 10 ms interval the sampling timer ran
    // (the histogram records the whole interval, in ns).
    const late = (ns) => Math.max(0, ns / 1e6 - loopResolutionMs);
    const result = { p50: late(loopDelay.percentile(50)), p99: late(loopDelay.percentile(99)), max: late(loopDelay.max), samples: loopDelay.count };
    loopDelay.reset();
    return result;
  },
};
if (process.env.SEE_SOAK_HEAP_SNAPSHOT_DIR) {
  ops['heap-snapshot'] = async () => {
    const { writeHeapSnapshot } = await import('node:v8');
    return writeHeapSnapshot(join(process.env.SEE_SOAK_HEAP_SNAPSHOT_DIR ?? '', `soak-${Date.now()}.heapsnapshot`));
  };
}
answerParent(ops, stop);
process.send?.({ ready: true, apiUrl: emu.apiUrl, token: emu.token, testProxyPort: emu.proxy?.port, mode: emu.info().interception.mode });
