// @ts-check
// Runs every bench/*.bench.mjs in turn (like run.mjs), tees their output to the console and to a log
// file, and writes BENCHMARKS.md: the machine, a results table built from the benches' BENCH-RESULT
// lines (bench/lib/stats.mjs), and each bench's full output in a collapsed section.
//
//   npm run bench:report                       build, run every bench, write BENCHMARKS.md
//   node bench/report.mjs [filter]             the built code as it is; only benches whose file name contains filter
//   node bench/report.mjs --from <log>         rebuild BENCHMARKS.md from a saved run (no bench runs)
//
// Options: --out <file> (default BENCHMARKS.md at the repository root), --save <log> (the raw output;
// default a file in the OS temp dir, printed at the end), --only a,b / --skip a,b (file-name
// substrings), --note <text> (a line at the top, e.g. "sample run, not the reference figures").
// Env: BENCH_TIMEOUT_MIN (per bench, default 30: a bench still running then is stopped, its process
// group SIGTERMed then SIGKILLed), and every bench's own variables, passed through.
// The log holds the console output plus BENCH-MACHINE / BENCH-EXIT / BENCH-END lines, so --from
// rebuilds the same report, machine included. Output of `npm run bench` (run.mjs) works with --from
// too, without the machine. Exit status: 1 when a bench failed or was stopped, else 0.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync, existsSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseResultLine } from './lib/stats.mjs';
import { drainTimeWait, ephemeralPortRange, timeWaitCount } from './lib/time-wait.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');

// ---- arguments ------------------------------------------------------------------------------------
/**
 * @typedef {{ from?: string, out: string, save?: string, only: string[], skip: string[], note?: string, filter: string }} ReportOptions
 * @typedef {{ file?: string, lines: string[], results: any[], exit?: Record<string, any> }} Section
 * @typedef {{ machine?: Record<string, any>, end?: Record<string, any>, sections: Section[] }} ParsedRun
 */

/** @param {string[]} argv */
function parseArgs(argv) {
  /** @type {ReportOptions} */
  const opts = { from: undefined, out: join(root, 'BENCHMARKS.md'), save: undefined, only: [], skip: [], note: undefined, filter: '' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--from') opts.from = value();
    else if (a === '--out') opts.out = resolve(value());
    else if (a === '--save') opts.save = resolve(value());
    else if (a === '--only') opts.only = value().split(',').filter(Boolean);
    else if (a === '--skip') opts.skip = value().split(',').filter(Boolean);
    else if (a === '--note') opts.note = value();
    else if (a === '-h' || a === '--help') {
      console.log('usage: node bench/report.mjs [filter] [--from <log>] [--out <file>] [--save <log>] [--only a,b] [--skip a,b] [--note <text>]');
      process.exit(0);
    } else if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
    else opts.filter = a;
  }
  return opts;
}

// ---- the machine ----------------------------------------------------------------------------------
const read = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};
const run = (cmd, args) => {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000, cwd: root }).trim();
  } catch {
    return undefined;
  }
};
const loadAvg = () => os.loadavg().map((x) => Number(x.toFixed(2)));

function describeMachine() {
  const cpuinfo = read('/proc/cpuinfo') ?? '';
  const cpuModel = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? /^Hardware\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const cpuMax = read('/sys/fs/cgroup/cpu.max')?.trim().split(/\s+/);
  const cgroupCpus = cpuMax && cpuMax[0] !== 'max' ? Number(cpuMax[0]) / Number(cpuMax[1]) : undefined;
  const memMax = read('/sys/fs/cgroup/memory.max')?.trim();
  const meminfo = read('/proc/meminfo') ?? '';
  const memAvailableKb = Number(/^MemAvailable:\s+(\d+) kB/m.exec(meminfo)?.[1] ?? NaN);
  const osRelease = read('/etc/os-release') ?? '';
  const distro = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(osRelease)?.[1] ?? 'unknown';
  const status = run('git', ['status', '--porcelain', '--untracked-files=no']);
  const dpkgVersion = (pkg) => run('dpkg-query', ['-W', '-f=${Version}', pkg]);
  const has = (bin) => run('sh', ['-c', `command -v ${bin}`]);
  return {
    date: new Date().toISOString(),
    cpuModel,
    cpus: os.cpus().length,
    availableParallelism: os.availableParallelism?.() ?? os.cpus().length,
    cgroupCpus,
    memTotalBytes: os.totalmem(),
    memAvailableBytes: Number.isFinite(memAvailableKb) ? memAvailableKb * 1024 : undefined,
    cgroupMemMax: memMax && memMax !== 'max' ? Number(memMax) : undefined,
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    kernelVersion: os.version?.(),
    distro,
    container: existsSync('/.dockerenv') || existsSync('/run/.containerenv'),
    node: process.version,
    v8: process.versions.v8,
    root: process.getuid?.() === 0,
    load: loadAvg(),
    gitCommit: run('git', ['rev-parse', 'HEAD']),
    gitBranch: run('git', ['rev-parse', '--abbrev-ref', 'HEAD']),
    gitDirty: status === undefined ? undefined : status.length > 0,
    ephemeralPorts: ephemeralPortRange(),
    tcpTwReuse: read('/proc/sys/net/ipv4/tcp_tw_reuse')?.trim(),
    timeWait: timeWaitCount(),
    fdLimit: run('sh', ['-c', 'ulimit -n']),
    baselines: {
      'dante-server': has('danted') ? (dpkgVersion('dante-server') ?? 'installed') : 'not installed',
      microsocks: has('microsocks') ? (dpkgVersion('microsocks') ?? 'installed') : 'not installed',
      curl: has('curl') ? (dpkgVersion('curl') ?? 'installed') : 'not installed',
    },
  };
}

// ---- running ----------------------------------------------------------------------------------------
function benchFiles(opts) {
  return readdirSync(here)
    .filter((f) => f.endsWith('.bench.mjs') && f.includes(opts.filter))
    .filter((f) => !opts.only.length || opts.only.some((s) => f.includes(s)))
    .filter((f) => !opts.skip.some((s) => f.includes(s)))
    .sort();
}

async function runAll(opts) {
  const timeoutMs = Math.max(0.05, Number(process.env.BENCH_TIMEOUT_MIN) || 30) * 60_000;
  const savePath = opts.save ?? join(os.tmpdir(), `see-bench-report-${new Date().toISOString().replace(/[:.]/g, '-')}.log`);
  const fd = openSync(savePath, 'w');
  let text = '';
  /** @param {string} s @param {NodeJS.WriteStream} [stream] */
  const emit = (s, stream = process.stdout) => {
    stream.write(s);
    writeSync(fd, s);
    text += s;
  };
  const files = benchFiles(opts);
  const t0 = Date.now();
  emit(`BENCH-MACHINE ${JSON.stringify(describeMachine())}\n`);
  emit(`benchmarks: ${files.join(', ')}; at most ${timeoutMs / 60_000} min each; raw output in ${savePath}\n`);

  let current;
  const stopCurrent = (sig) => {
    try {
      if (current) process.kill(-current.pid, sig);
    } catch {}
  };
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      stopCurrent('SIGTERM');
      setTimeout(() => {
        stopCurrent('SIGKILL');
        process.exit(130);
      }, 5_000).unref();
    });
  }

  for (const file of files) {
    emit(`\n## ${file}\n`);
    await drainTimeWait(undefined, undefined, { log: (s) => emit(`${s}\n`) });
    const started = Date.now();
    // Its own process group, so a bench still running at the deadline is stopped with its children.
    const child = spawn(process.execPath, ['--expose-gc', join(here, file)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    current = child;
    child.stdout.on('data', (d) => emit(d.toString()));
    child.stderr.on('data', (d) => emit(d.toString(), process.stderr));
    let timedOut = false;
    let killTimer;
    const timer = setTimeout(() => {
      timedOut = true;
      emit(`\n(${file}: still running after ${timeoutMs / 60_000} min: stopping it)\n`);
      stopCurrent('SIGTERM');
      killTimer = setTimeout(() => stopCurrent('SIGKILL'), 15_000);
    }, timeoutMs);
    const closed = new Promise((r) => child.once('close', r));
    const exit = await new Promise((r) => {
      child.once('exit', (code, signal) => r({ code, signal }));
      child.once('error', (err) => r({ code: null, signal: null, error: err.message }));
    });
    // Output still buffered in the pipes; a grandchild holding them open does not hold the run up.
    await Promise.race([closed, new Promise((r) => setTimeout(r, 5_000))]);
    clearTimeout(timer);
    clearTimeout(killTimer);
    current = undefined;
    const record = { file, status: exit.code, signal: exit.signal, timedOut, seconds: Math.round((Date.now() - started) / 100) / 10, ...(exit.error ? { error: exit.error } : {}) };
    if (!text.endsWith('\n')) emit('\n');
    emit(`BENCH-EXIT ${JSON.stringify(record)}\n`);
  }
  emit(`\nBENCH-END ${JSON.stringify({ date: new Date().toISOString(), load: loadAvg(), seconds: Math.round((Date.now() - t0) / 1000), timeWait: timeWaitCount() })}\n`);
  closeSync(fd);
  return { text, savePath };
}

// ---- parsing a run's output -----------------------------------------------------------------------
/**
 * @param {string} text
 * @returns {ParsedRun}
 */
export function parseRunOutput(text) {
  /** @type {ParsedRun} */
  const parsed = { machine: undefined, end: undefined, sections: [] };
  /** @type {Section | undefined} */
  let current;
  /** @type {Section} */
  const loose = { file: undefined, lines: [], results: [], exit: undefined };
  for (const raw of text.split(/\r?\n/)) {
    // eslint-disable-next-line no-control-regex
    const line = raw.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
    const header = /^## (\S+\.bench\.mjs)\s*$/.exec(line);
    if (header) {
      current = { file: header[1], lines: [], results: [], exit: undefined };
      parsed.sections.push(current);
      continue;
    }
    const meta = /^BENCH-(MACHINE|EXIT|END) (\{.*\})\s*$/.exec(line);
    if (meta) {
      let json;
      try {
        json = JSON.parse(meta[2]);
      } catch {
        json = undefined;
      }
      if (json && meta[1] === 'MACHINE') parsed.machine = json;
      else if (json && meta[1] === 'END') parsed.end = json;
      else if (json && meta[1] === 'EXIT') {
        const s = parsed.sections.find((x) => x.file === json.file) ?? current;
        if (s) s.exit = json;
      }
      continue;
    }
    const legacyExit = /^\((\S+\.bench\.mjs) exited with (\S+)\)$/.exec(line);
    if (legacyExit) {
      const s = parsed.sections.find((x) => x.file === legacyExit[1]);
      if (s) s.exit = { file: s.file, status: Number.isFinite(Number(legacyExit[2])) ? Number(legacyExit[2]) : null, signal: Number.isFinite(Number(legacyExit[2])) ? null : legacyExit[2] };
    }
    const target = current ?? loose;
    const result = parseResultLine(line);
    if (result) target.results.push(result);
    target.lines.push(line);
  }
  // The output of one bench run by hand (no `## file` header): one section named after its results.
  if (!parsed.sections.length && loose.results.length) {
    loose.file = `${loose.results[0].bench}.bench.mjs`;
    parsed.sections.push(loose);
  }
  for (const s of parsed.sections) {
    while (s.lines.length && s.lines[s.lines.length - 1].trim() === '') s.lines.pop();
    while (s.lines.length && s.lines[0].trim() === '') s.lines.shift();
  }
  return parsed;
}

// ---- markdown ---------------------------------------------------------------------------------------
const cell = (s) => String(s ?? '').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

export function fmtNumber(x) {
  if (typeof x !== 'number' || !Number.isFinite(x)) return 'n/a';
  const a = Math.abs(x);
  if (a >= 1_000) return Math.round(x).toLocaleString('en-US');
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  if (a === 0) return '0';
  return x.toPrecision(2);
}

const withUnit = (s, unit) => (!unit ? s : unit.startsWith('/') ? `${s}${unit}` : `${s} ${unit}`);

/** `X unit (A–B), n=N`, or `X unit (n=N)` when there is no min–max. */
function fmtMeasured(m, unit) {
  if (!m || m.value === null || m.value === undefined) return '—';
  const spreadPart = m.min !== null && m.min !== undefined && m.max !== null && m.max !== undefined ? ` (${fmtNumber(m.min)}–${fmtNumber(m.max)})` : '';
  return `${withUnit(fmtNumber(m.value), unit)}${spreadPart}${m.n ? `, n=${m.n}` : ''}`;
}

function fmtRatio(r) {
  if (r.ratio === null || r.ratio === undefined) return '—';
  const spreadPart = r.ratioMin !== null && r.ratioMin !== undefined ? ` (${fmtNumber(r.ratioMin)}–${fmtNumber(r.ratioMax)})` : '';
  return `${fmtNumber(r.ratio)}×${spreadPart}`;
}

function fmtMet(r) {
  if (r.skipped) return `skipped: ${r.skipped}`;
  if (r.met === true) return 'yes';
  if (r.met === false) return '**no**';
  return '—';
}

const gib = (b) => (b === undefined || !Number.isFinite(b) ? 'n/a' : `${(b / 2 ** 30).toFixed(1)} GiB`);

function machineTable(m, end) {
  if (!m) return ['Not recorded in this output (it was not produced by bench/report.mjs).'];
  const rows = [
    ['CPU', `${m.cpuModel}; ${m.cpus} logical CPUs${m.cgroupCpus ? ` (cgroup limit ${m.cgroupCpus.toFixed(2)} CPUs)` : ''}`],
    ['Memory', `${gib(m.memTotalBytes)} total, ${gib(m.memAvailableBytes)} available at the start${m.cgroupMemMax ? `; cgroup limit ${gib(m.cgroupMemMax)}` : ''}`],
    ['Kernel', `${m.kernel}${m.kernelVersion ? ` (${m.kernelVersion})` : ''}`],
    ['Distribution', `${m.distro}${m.container ? ' (in a container)' : ''}`],
    ['Node', `${m.node} (V8 ${m.v8})`],
    ['Root', m.root ? 'yes (transparent-mode and dante-server figures measured)' : 'no (transparent-mode and dante-server figures skipped)'],
    ['Load average (1, 5, 15 min)', `start ${m.load?.join(', ')}; end ${end?.load?.join(', ') ?? 'n/a'}`],
    ['Date', `${m.date} → ${end?.date ?? 'n/a'}${end?.seconds !== undefined ? ` (${end.seconds < 120 ? `${end.seconds} s` : `${Math.round(end.seconds / 60)} min`})` : ''}`],
    ['Commit', `${m.gitCommit ?? 'unknown'}${m.gitBranch ? ` (${m.gitBranch})` : ''}${m.gitDirty ? ', with uncommitted changes' : ''}`],
    [
      'Loopback',
      `ephemeral ports ${m.ephemeralPorts ? m.ephemeralPorts.join('–') : 'n/a'}, tcp_tw_reuse ${m.tcpTwReuse ?? 'n/a'}, TIME_WAIT sockets ${m.timeWait} at the start, ${end?.timeWait ?? 'n/a'} at the end; descriptor limit ${m.fdLimit ?? 'n/a'}`,
    ],
    ['Baselines installed', Object.entries(m.baselines ?? {}).map(([k, v]) => `${k} ${v}`).join(', ')],
  ];
  return ['| | |', '| --- | --- |', ...rows.map(([k, v]) => `| ${cell(k)} | ${cell(v)} |`)];
}

function fence(lines) {
  const body = lines.join('\n');
  const f = body.includes('```') ? '~~~~' : '```';
  return `${f}text\n${body}\n${f}`;
}

const exitText = (e) => {
  if (!e) return 'exit status not recorded';
  if (e.timedOut) return `stopped after the time limit (${e.seconds} s)`;
  if (e.error) return `failed to start: ${e.error}`;
  const how = e.status !== null && e.status !== undefined ? `exit ${e.status}` : `signal ${e.signal}`;
  return e.seconds !== undefined ? `${how}, ${e.seconds} s` : how;
};

/**
 * @param {ParsedRun} parsed
 * @param {{ source?: string, note?: string }} [options]
 */
export function renderMarkdown(parsed, { source, note } = {}) {
  const results = parsed.sections.flatMap((s) => s.results.map((r) => ({ ...r, file: s.file })));
  const targets = results.filter((r) => r.target !== null && r.target !== undefined && !r.skipped);
  const met = targets.filter((r) => r.met === true).length;
  const out = [];
  out.push('# Benchmarks', '');
  if (note) out.push(`> **${note}**`, '');
  out.push(
    'Regenerate with `npm run bench:report` (builds, runs every `bench/*.bench.mjs` in turn and rewrites this',
    'file; run it on a quiet machine: the figures are only as steady as the load around them). To rebuild this',
    'file from a saved run without running anything: `node bench/report.mjs --from <log>` (the log path is',
    'printed at the end of every run).',
    '',
    'Every figure is a median with its min–max over the runs (n), next to a baseline measured in the same',
    'run, the runs of figure and baseline interleaved; ratios with a min–max are medians of per-run ratios,',
    'the others ratios of the medians. Before every connection-rate run the loopback TIME_WAIT sockets are',
    'drained below a ceiling (bounded wait, `bench/lib/time-wait.mjs`). Rows without a target are reference',
    'figures.',
    '',
  );
  if (source) out.push(`Built from \`${source}\`.`, '');
  out.push('## Machine', '', ...machineTable(parsed.machine, parsed.end), '');
  out.push('## Results', '');
  out.push(`${met}/${targets.length} targets met; ${results.filter((r) => r.skipped).length} skipped.`, '');
  if (results.length) {
    out.push('| benchmark | figure | measured median (min–max) | baseline (same run) | ratio | target | met? |', '| --- | --- | --- | --- | --- | --- | --- |');
    for (const r of results) {
      const baseline = r.baseline ? `${r.baseline.name}: ${fmtMeasured(r.baseline, r.baseline.unit ?? r.unit)}` : '—';
      out.push(
        `| ${cell(r.bench ?? r.file)} | ${cell(r.figure ?? r.name)} | ${cell(r.skipped ? '—' : fmtMeasured(r, r.unit))} | ${cell(r.skipped ? '—' : baseline)} | ${cell(r.skipped ? '—' : fmtRatio(r))} | ${cell(r.target ?? (r.skipped ? r.name : '—'))} | ${cell(fmtMet(r))} |`,
      );
    }
    out.push('');
  } else out.push('No BENCH-RESULT lines in this output.', '');
  out.push('## Runs', '', '| benchmark | how it ended | results |', '| --- | --- | --- |');
  for (const s of parsed.sections) out.push(`| ${cell(s.file)} | ${cell(exitText(s.exit))} | ${s.results.length} |`);
  out.push('', '## Output', '');
  for (const s of parsed.sections) {
    out.push('<details>', `<summary>${s.file} (${exitText(s.exit)})</summary>`, '', fence(s.lines), '', '</details>', '');
  }
  return out.join('\n');
}

const failedSections = (parsed) => parsed.sections.filter((s) => s.exit && (s.exit.timedOut || s.exit.error || (s.exit.status ?? 1) !== 0));

// ---- main -------------------------------------------------------------------------------------------
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exit(2);
  }
  let text;
  let source;
  let savePath;
  if (opts.from) {
    text = readFileSync(opts.from, 'utf8');
    source = relative(root, resolve(opts.from)).startsWith('..') ? resolve(opts.from) : relative(root, resolve(opts.from));
  } else {
    ({ text, savePath } = await runAll(opts));
  }
  const parsed = parseRunOutput(text);
  writeFileSync(opts.out, renderMarkdown(parsed, { source: opts.from ? source : undefined, note: opts.note }) + '\n');
  const results = parsed.sections.flatMap((s) => s.results);
  const failed = failedSections(parsed);
  console.log(`\n${relative(process.cwd(), opts.out) || opts.out}: ${parsed.sections.length} benchmarks, ${results.length} results, ${failed.length} failed${failed.length ? ` (${failed.map((s) => s.file).join(', ')})` : ''}`);
  if (savePath) console.log(`raw output in ${savePath}; rebuild the report from it with: node bench/report.mjs --from ${savePath}`);
  process.exit(failed.length ? 1 : 0);
}
