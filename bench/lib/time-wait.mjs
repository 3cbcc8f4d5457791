// @ts-check
// Loopback TIME_WAIT sockets. Every connection a benchmark closes leaves one for 60 s (Linux's fixed
// TIME_WAIT length) on the side that closed first; a few thousand per run pile up, eat into the
// ephemeral port range and skew the runs that follow (connects slow down or fail). Before every
// connection-rate run a benchmark waits, bounded, for them to fall below a ceiling.
// Env: BENCH_TIME_WAIT_CEILING (sockets; default half the ephemeral range, at most 15,000),
// BENCH_DRAIN_MAX_MS (the longest wait; default 65,000 ms: one full TIME_WAIT period and a margin).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** [low, high] of net.ipv4.ip_local_port_range, or undefined when it cannot be read. */
export function ephemeralPortRange() {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return Number.isFinite(lo) && Number.isFinite(hi) && hi >= lo ? [lo, hi] : undefined;
  } catch {
    return undefined;
  }
}

const envNumber = (name) => {
  const n = Number(process.env[name]);
  return process.env[name] && Number.isFinite(n) && n > 0 ? n : undefined;
};

const range = ephemeralPortRange();
/** Loopback TIME_WAIT sockets above which a connection-rate run waits for them to drain. */
export const TIME_WAIT_CEILING = envNumber('BENCH_TIME_WAIT_CEILING') ?? Math.min(15_000, range ? Math.floor((range[1] - range[0] + 1) / 2) : 15_000);
/** The longest a drain waits, in ms. */
export const DRAIN_MAX_MS = envNumber('BENCH_DRAIN_MAX_MS') ?? 65_000;

const loopback = /^(127\.|\[::1\]|::1:|\[::ffff:127\.|::ffff:127\.)/;

/**
 * Loopback TCP sockets in TIME_WAIT in this network namespace (`ss -tan state time-wait`, either
 * end on 127.0.0.0/8 or ::1); NaN when ss is missing or fails.
 */
export function timeWaitCount() {
  let out;
  try {
    out = execFileSync('ss', ['-Htan', 'state', 'time-wait'], { encoding: 'utf8', maxBuffer: 256 * 2 ** 20, stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
  } catch {
    return NaN;
  }
  let n = 0;
  for (const line of out.split('\n')) {
    // Recv-Q Send-Q Local:Port Peer:Port (no State column with a state filter)
    const f = line.trim().split(/\s+/);
    if (f.length >= 4 && (loopback.test(f[2]) || loopback.test(f[3]))) n++;
  }
  return n;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits, at most `maxMs`, for loopback TIME_WAIT sockets to fall to `ceiling`; returns the count
 * then (NaN when it cannot be counted: no wait). Says so on stdout when it had to wait, and when it
 * gave up with the count still above the ceiling (the run that follows may be skewed).
 */
export async function drainTimeWait(ceiling = TIME_WAIT_CEILING, maxMs = DRAIN_MAX_MS, { log = (s) => console.log(s), pollMs = 500 } = {}) {
  const t0 = Date.now();
  const first = timeWaitCount();
  let n = first;
  while (n > ceiling && Date.now() - t0 < maxMs) {
    await sleep(Math.min(pollMs, Math.max(1, maxMs - (Date.now() - t0))));
    n = timeWaitCount();
  }
  if (first > ceiling) {
    const waited = ((Date.now() - t0) / 1000).toFixed(1);
    log(
      n > ceiling
        ? `  (TIME_WAIT: ${first} loopback sockets, ceiling ${ceiling}; still ${n} after ${waited} s, the bound: the next run may be skewed)`
        : `  (TIME_WAIT: ${first} loopback sockets, ceiling ${ceiling}; waited ${waited} s for ${n})`,
    );
  }
  return n;
}
