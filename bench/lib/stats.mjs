// @ts-check
// Statistics and result lines shared by the benchmarks. Every figure is a median with its min–max over
// at least MIN_RUNS runs; every target gets a human line (`TARGET MET/MISSED/SKIPPED name: detail`)
// followed by a machine-readable one that bench/report.mjs turns into the BENCHMARKS.md table:
//
//   BENCH-RESULT {"v":1,"bench":"gateway","name":"…","figure":"…","value":1.2,"min":1.1,"max":1.4,"n":5,
//                 "unit":"s","baseline":{"name":"…","value":…,"min":…,"max":…,"n":5,"unit":"s"},
//                 "ratio":1.1,"ratioMin":…,"ratioMax":…,"target":"≤ 1.3 s","met":true,"detail":"…"}
//
// One line, JSON after the marker. `met` is true/false for a target, null for a figure without one
// (`figure()`) or a target that could not be measured (`skipped()`, which adds "skipped": reason).
// Numbers are in `unit` as displayed (GB/s, ms, /s, MB, s); absent values are null.
import { basename } from 'node:path';

/** @typedef {(x: number) => string} Format */
/**
 * A figure's data: `samples` (median, min–max) or one `value`; its `baseline` the same way.
 * @typedef {{ samples?: number[], value?: number, min?: number, max?: number, n?: number }} Measured
 * @typedef {Measured & { figure?: string, unit?: string, baseline?: Measured & { name: string, unit?: string } | null, ratio?: number | number[], target?: string, bench?: string, skipped?: string, detail?: string }} ResultData
 */

export const MIN_RUNS = 5;
export const RESULT_MARKER = 'BENCH-RESULT';
export const RESULT_VERSION = 1;

/**
 * Runs per figure from an environment variable, never below MIN_RUNS.
 * @param {string | number | undefined} value
 */
export function runsFrom(value, fallback = MIN_RUNS) {
  const n = Math.floor(Number(value ?? fallback));
  return Math.max(MIN_RUNS, Number.isFinite(n) ? n : fallback);
}

/** @param {readonly number[]} xs */
export const sorted = (xs) => [...xs].sort((a, b) => a - b);

/** @param {readonly number[]} xs @returns {number} */
export function median(xs) {
  if (xs.length === 0) return NaN;
  const s = sorted(xs);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Nearest-rank percentile, p in [0, 1]: the sample at index floor(n·p) of the sorted samples. */
/** @param {readonly number[]} xs @param {number} p @returns {number} */
export function pct(xs, p) {
  if (xs.length === 0) return NaN;
  return sorted(xs)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
}
export const percentile = pct;

/** @param {readonly number[]} xs */
export function summarize(xs) {
  return { value: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
}

/**
 * `median X (min A, max B, n=N)`, each number through `f`.
 * @param {readonly number[]} xs
 * @param {Format} [f]
 */
export const spread = (xs, f = String) => `median ${f(median(xs))} (min ${f(Math.min(...xs))}, max ${f(Math.max(...xs))}, n=${xs.length})`;

/**
 * `X (A–B)`: the median and its min–max, each number through `f`.
 * @param {readonly number[]} xs
 * @param {Format} [f]
 */
export const range = (xs, f = String) => `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`;

/**
 * Element-wise ratios of two equally long series (interleaved pairs).
 * @param {readonly number[]} xs
 * @param {readonly number[]} ys
 */
export const ratios = (xs, ys) => xs.map((x, i) => x / ys[i]);

/** The running bench: the script's file name without `.bench.mjs`. */
export const benchName = basename(process.argv[1] ?? 'bench').replace(/\.bench\.mjs$|\.mjs$/, '');

/** Every verdict of this process, in order: { name, met }. @type {{ name: string, met: unknown }[]} */
export const verdicts = [];

/** A finite number rounded to 6 significant digits (the lines stay short), else null. @param {unknown} x */
const finite = (x) => (typeof x === 'number' && Number.isFinite(x) ? Number(x.toPrecision(6)) : null);

/**
 * {value, min, max, n} from `samples` (median) or a single `value` (n=1 unless given).
 * @param {Measured} [data]
 */
function measured({ samples, value, min, max, n } = {}) {
  if (samples && samples.length) {
    const s = summarize(samples);
    return { value: finite(s.value), min: finite(s.min), max: finite(s.max), n: s.n };
  }
  return { value: finite(value), min: finite(min), max: finite(max), n: n ?? (value === undefined ? 0 : 1) };
}

/**
 * The machine-readable record. `data`: { figure, samples | value (+min, max, n), unit, baseline:
 * { name, samples | value, unit }, ratio: number | number[] (per-run ratios: median and min–max),
 * target }. Without an explicit ratio, it is the ratio of the medians of the figure and its baseline.
 * @param {string} name
 * @param {boolean | null} met
 * @param {string | null | undefined} detail
 * @param {ResultData} [data]
 */
export function resultRecord(name, met, detail, data = {}) {
  const m = measured(data);
  const b = data.baseline ? { name: data.baseline.name, ...measured(data.baseline), unit: data.baseline.unit ?? data.unit ?? null } : null;
  let ratio = null;
  let ratioMin = null;
  let ratioMax = null;
  if (Array.isArray(data.ratio) && data.ratio.length) {
    const r = summarize(data.ratio);
    [ratio, ratioMin, ratioMax] = [finite(r.value), finite(r.min), finite(r.max)];
  } else if (typeof data.ratio === 'number') ratio = finite(data.ratio);
  else if (b && m.value !== null && b.value) ratio = finite(m.value / b.value);
  /** @type {Record<string, unknown>} */
  const record = {
    v: RESULT_VERSION,
    bench: data.bench ?? benchName,
    name,
    figure: data.figure ?? name,
    ...m,
    unit: data.unit ?? null,
    baseline: b,
    ratio,
    ratioMin,
    ratioMax,
    target: data.target ?? null,
    met,
    detail: detail ?? null,
  };
  if (data.skipped) record.skipped = data.skipped;
  return record;
}

/** @param {Record<string, unknown>} record */
export function emitResult(record) {
  console.log(`${RESULT_MARKER} ${JSON.stringify(record)}`);
}

/**
 * Prints `  TARGET MET|MISSED name: detail` and the BENCH-RESULT line for it.
 * @param {string} name
 * @param {unknown} met
 * @param {string} detail
 * @param {ResultData} [data]
 */
export function verdict(name, met, detail, data = {}) {
  verdicts.push({ name, met });
  console.log(`  TARGET ${met ? 'MET   ' : 'MISSED'} ${name}: ${detail}`);
  emitResult(resultRecord(name, Boolean(met), detail, data));
}

/**
 * A figure without a target of its own (a reference next to the targets): BENCH-RESULT only, met null.
 * @param {string} name
 * @param {ResultData} [data]
 */
export function figure(name, data = {}) {
  emitResult(resultRecord(name, null, data.detail, data));
}

/**
 * A target that could not be measured here (a missing tool, not root): printed and recorded, met null.
 * @param {string} name
 * @param {string} reason
 * @param {ResultData} [data]
 */
export function skipped(name, reason, data = {}) {
  console.log(`  TARGET SKIPPED ${name}: ${reason}`);
  emitResult(resultRecord(name, null, reason, { ...data, skipped: reason }));
}

/** `M/N targets met`. */
export const verdictSummary = () => `${verdicts.filter((v) => v.met).length}/${verdicts.length} targets met`;

/**
 * Parses one output line; the record, or undefined when the line is not a BENCH-RESULT line.
 * @param {string} line
 * @returns {Record<string, any> | undefined}
 */
export function parseResultLine(line) {
  const m = /^\s*BENCH-RESULT (\{.*\})\s*$/.exec(line);
  if (!m) return undefined;
  try {
    const r = JSON.parse(m[1] ?? '');
    return r && typeof r === 'object' && typeof r.name === 'string' ? r : undefined;
  } catch {
    return undefined;
  }
}
