// @ts-check
// Soak benchmark (issue 8), importing the built code (npm run build first): the soak of
// bench/lib/soak.mjs — mixed allowed / denied / proxied / UDP flows from 4 sandboxes at a bounded rate,
// network policy PUTs and credential rotations in alternating update phases — with the emulator alone
// in a child process. Prints:
//  1. Added latency of proxied flows (connect → first response byte through the sandbox's SOCKS5
//     ingress, gateway and test proxy, minus a direct loopback GET to the same service started at the
//     same moment), p50 and p99, separately for quiet phases and for phases with policy updates;
//     target: p99 added latency < 10 ms while policy updates happen.
//  2. The soak's own criteria: zero crashes, no leaked descriptors (drained state after the warm-up
//     vs after the load), RSS growth < 10% (same two states, after a forced GC, without the heap pages
//     V8 holds committed but free; VmRSS itself printed too), every flow audited exactly once with the
//     outcome of its kind.
// Env: SEE_SOAK_SECONDS (default 60; the soak is 600), SEE_SOAK_RATE (flows/s, default 75).
// Everything runs on 127.0.0.1; 198.18.0.0/15 addresses are data inside the emulator. Every loop is
// bounded in count and time; children are stopped by PID.
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { describeReport, latencySummary, rssGrowth, runSoak, soakOptionsFromEnv } from './lib/soak.mjs';

const benchStart = performance.now();
const load = () => `load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} on ${cpus().length} CPUs`;
/** @param {number} x */
const ms = (x) => `${x.toFixed(2)} ms`;
const line = (name, value) => console.log(`  ${name.padEnd(52)} ${value}`);
/** @type {{ name: string, met: unknown }[]} */
const verdicts = [];
/** `TARGET MET|MISSED name: detail`, and the machine-readable BENCH-RESULT line other benches print too. */
/**
 * @param {string} name
 * @param {unknown} met
 * @param {string} detail
 * @param {{ value?: number | null, unit?: string | null, target?: string | null, baseline?: { name: string, value: number, unit?: string } | null }} [data]
 */
function verdict(name, met, detail, { value = null, unit = null, target = null, baseline = null } = {}) {
  verdicts.push({ name, met });
  console.log(`  TARGET ${met ? 'MET   ' : 'MISSED'} ${name}: ${detail}`);
  /** @param {unknown} x */
  const finite = (x) => (typeof x === 'number' && Number.isFinite(x) ? Number(x.toPrecision(6)) : null);
  const record = { v: 1, bench: 'soak', name, figure: name, value: finite(value), min: finite(value), max: finite(value), n: value === null ? 0 : 1, unit, baseline: baseline && { ...baseline, value: finite(baseline.value), min: finite(baseline.value), max: finite(baseline.value), n: 1, unit: baseline.unit ?? unit }, ratio: null, ratioMin: null, ratioMax: null, target, met: Boolean(met), detail };
  console.log(`BENCH-RESULT ${JSON.stringify(record)}`);
}

let exitCode = 0;
try {
  if (!existsSync(fileURLToPath(new URL('../dist/emulator.js', import.meta.url)))) throw new Error('dist/ is missing: npm run build first');
  const { seconds, rate } = soakOptionsFromEnv();
  console.log(`soak benchmark: ${load()}; ${seconds} s at ${rate} flows/s (SEE_SOAK_SECONDS, SEE_SOAK_RATE)`);
  const report = await runSoak({ seconds, rate, log: (l) => console.log(`  ${l}`) });
  for (const l of describeReport(report)) console.log(`  ${l}`);
  if (report.problems.some((p) => p.startsWith('soak aborted')) || !report.audit) throw new Error('the soak did not complete (see the problems above)');

  console.log(`\n[1] added latency, connect → first response byte of proxied HTTP flows, chain minus direct loopback`);
  const l = latencySummary(report);
  for (const [phase, label] of [['quiet', 'without policy updates'], ['updates', 'while policy updates happen']]) {
    const p = l[/** @type {'quiet' | 'updates'} */ (phase)];
    line(`${label}: chain p50 / p99`, `${ms(p.chainP50)} / ${ms(p.chainP99)} (n=${p.samples})`);
    line(`${label}: direct baseline p50 / p99`, `${ms(p.baselineP50)} / ${ms(p.baselineP99)}`);
    line(`${label}: added p50 / p99`, `${ms(p.addedP50)} / ${ms(p.addedP99)}`);
  }
  verdict('p99 added latency < 10 ms while policy updates happen', l.updates.addedP99 < 10, `${ms(l.updates.addedP99)} (without updates: ${ms(l.quiet.addedP99)}; p50 ${ms(l.updates.addedP50)} / ${ms(l.quiet.addedP50)})`, {
    value: l.updates.addedP99,
    unit: 'ms',
    target: '< 10 ms',
    baseline: { name: 'p99 added latency without policy updates', value: l.quiet.addedP99 },
  });

  console.log(`\n[2] the soak's criteria`);
  // Present once the soak completed (checked above).
  const { before, after, child, audit } = /** @type {Required<typeof report>} */ (report);
  line('emulator descriptors, drained: after warm-up → after load', `${before.fds} → ${after.fds}`);
  line('emulator RSS after GC, drained: after warm-up → after load', `${(before.rssKb / 1024).toFixed(1)} MB → ${(after.rssKb / 1024).toFixed(1)} MB (${(rssGrowth(report, { raw: true }) * 100).toFixed(1)}%)`);
  line('  without free committed V8 heap (in use)', `${(before.inUseKb / 1024).toFixed(1)} MB → ${(after.inUseKb / 1024).toFixed(1)} MB`);
  line('emulator JS heap used after GC', `${(before.heapUsedKb / 1024).toFixed(1)} MB → ${(after.heapUsedKb / 1024).toFixed(1)} MB`);
  const crashFree = child.aliveAfterLoad === true && (child.exit !== undefined && 'code' in child.exit && child.exit.code === 0) && child.logs.errors.length === 0 && child.logs.other.length === 0;
  verdict('zero crashes', crashFree, `alive after the load: ${child.aliveAfterLoad}, exit ${JSON.stringify(child.exit)}, ${child.logs.errors.length} error logs`);
  const leakFree = before.drained.settled && after.drained.settled && after.fds - before.fds <= 2 && (after.resources.TCPSocketWrap ?? 0) <= (before.resources.TCPSocketWrap ?? 0) && (after.resources.UDPWrap ?? 0) <= (before.resources.UDPWrap ?? 0);
  verdict('no leaked sockets or descriptors', leakFree, `${before.fds} → ${after.fds} descriptors; sockets ${before.resources.TCPSocketWrap ?? 0} → ${after.resources.TCPSocketWrap ?? 0} TCP, ${before.resources.UDPWrap ?? 0} → ${after.resources.UDPWrap ?? 0} UDP`, { value: after.fds, unit: 'descriptors', target: `≤ ${before.fds + 2}` });
  const growth = rssGrowth(report);
  verdict('RSS growth < 10%', growth < 0.1, `${(growth * 100).toFixed(1)}% in use (VmRSS itself: ${(rssGrowth(report, { raw: true }) * 100).toFixed(1)}%)`, { value: growth * 100, unit: '%', target: '< 10 %' });
  const started = audit.byKind.reduce((n, k) => n + k.started, 0);
  const audited = audit.problems.length === 0 && audit.results === started && report.problems.length === 0;
  verdict('every flow audited exactly once, as its kind expects', audited, `${started} flows started, ${audit.results} results, ${audit.problems.length + report.problems.length} problems`);
} catch (err) {
  console.log(`soak benchmark failed: ${err instanceof Error ? err.stack : err}`);
  exitCode = 1;
}
console.log(`\n${verdicts.filter((v) => v.met).length}/${verdicts.length} targets met; ${load()}; ${((performance.now() - benchStart) / 1000).toFixed(0)} s`);
process.exit(exitCode);
