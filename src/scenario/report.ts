import { escapeControl } from '../text/control-chars.js';
import { describeDifference, type Difference, type Observation } from './expectations.js';

/** What running a scenario produced; `--json` prints it as is. Pure formatting below. */

export type StepStatus = 'passed' | 'failed' | 'skipped';

export interface StepResult {
  /** 1-based, as printed. */
  index: number;
  name: string;
  /** The step's action (`connect`, `quic`, `policy`, ...). */
  action: string;
  sandbox?: string;
  /** What the step did, one line: `connect tls api.internal.example.com:443`. */
  summary: string;
  status: StepStatus;
  /** What happened, one line. */
  happened: string;
  got: Observation;
  differences: Difference[];
  /** The flow's result audit event, one line (for flows). */
  auditLine?: string;
  /** The test proxy's connection log entry for this step, one line. */
  proxyLine?: string;
  /** The audit lines of the flows a command made (`exec` steps). */
  flowLines?: string[];
  /** Why a step was skipped, or failed without a difference (an API refusal). */
  message?: string;
  durationMs: number;
}

export interface ScenarioResult {
  name: string;
  file?: string;
  passed: boolean;
  emulator: { apiUrl: string; interception: string; attached: boolean };
  /** A failure before the steps ran (the setup was refused); the steps then did not run. */
  setupError?: string;
  steps: StepResult[];
  durationMs: number;
}

const indent = '     ';

/** The human report: per step what happened, expected vs got, the audit and proxy lines. */
export function renderScenarioText(r: ScenarioResult): string {
  const out: string[] = [`Scenario: ${escapeControl(r.name)}${r.file ? ` (${r.file})` : ''}`];
  out.push(`Emulator: ${r.emulator.apiUrl} (${r.emulator.attached ? 'attached' : 'started for this run'}, ${r.emulator.interception} interception)`);
  if (r.setupError) out.push(`SETUP FAILED: ${escapeControl(r.setupError)}`);
  for (const s of r.steps) {
    const mark = s.status === 'passed' ? 'PASS' : s.status === 'failed' ? 'FAIL' : 'SKIP';
    out.push(`  ${mark} step ${s.index} "${escapeControl(s.name)}": ${escapeControl(s.summary)}${s.sandbox ? ` (sandbox ${s.sandbox})` : ''}`);
    out.push(`${indent}${escapeControl(s.happened)}`);
    if (s.message) out.push(`${indent}${escapeControl(s.message)}`);
    for (const d of s.differences) for (const line of describeDifference(d)) out.push(`${indent}${escapeControl(line)}`);
    if (s.auditLine) out.push(`${indent}audit: ${escapeControl(s.auditLine)}`);
    if (s.proxyLine) out.push(`${indent}proxy: ${escapeControl(s.proxyLine)}`);
    for (const line of s.flowLines ?? []) out.push(`${indent}flow: ${escapeControl(line)}`);
  }
  const failed = r.steps.filter((s) => s.status === 'failed');
  const skipped = r.steps.filter((s) => s.status === 'skipped').length;
  const counts = `${r.steps.length - failed.length - skipped} passed, ${failed.length} failed${skipped ? `, ${skipped} skipped` : ''}`;
  out.push(
    r.passed
      ? `Result: PASS (${counts}, ${r.durationMs} ms)`
      : `Result: FAIL (${r.setupError ? 'setup failed' : `${counts}; failed: ${failed.map((s) => `step ${s.index} "${escapeControl(s.name)}"`).join(', ')}`})`,
  );
  return out.join('\n') + '\n';
}

// XML 1.0 forbids most control characters even as references: they are shown escaped instead.
const xml = (s: string) => escapeControl(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
/** Element text: each line escaped, the lines kept. */
const xmlLines = (lines: (string | undefined)[]) => lines.filter((l): l is string => !!l).map(xml).join('\n');

/** JUnit XML (one testsuite per scenario, one testcase per step), as CI systems read it. */
export function renderJunit(results: readonly ScenarioResult[]): string {
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const total = results.reduce((n, r) => n + Math.max(r.steps.length, 1), 0);
  const failures = results.reduce((n, r) => n + (r.setupError ? 1 : r.steps.filter((s) => s.status === 'failed').length), 0);
  lines.push(`<testsuites name="sandbox-egress-emulator scenarios" tests="${total}" failures="${failures}">`);
  for (const r of results) {
    const suite = xml(r.name);
    const failed = r.steps.filter((s) => s.status === 'failed').length;
    const skipped = r.steps.filter((s) => s.status === 'skipped').length;
    lines.push(
      `  <testsuite name="${suite}" tests="${Math.max(r.steps.length, 1)}" failures="${r.setupError ? 1 : failed}" skipped="${skipped}" time="${(r.durationMs / 1000).toFixed(3)}"${r.file ? ` file="${xml(r.file)}"` : ''}>`,
    );
    if (r.setupError) {
      lines.push(`    <testcase classname="${suite}" name="setup"><failure message="${xml(r.setupError)}"/></testcase>`);
    }
    for (const s of r.steps) {
      lines.push(`    <testcase classname="${suite}" name="${xml(`step ${s.index}: ${s.name}`)}" time="${(s.durationMs / 1000).toFixed(3)}">`);
      if (s.status === 'failed') {
        const message = s.differences.length ? s.differences.map((d) => `${d.path}: expected ${JSON.stringify(d.expected)}, got ${JSON.stringify(d.got)}`).join('; ') : (s.message ?? 'failed');
        const body = xmlLines([s.happened, ...s.differences.flatMap(describeDifference), s.message, s.auditLine && `audit: ${s.auditLine}`, s.proxyLine && `proxy: ${s.proxyLine}`]);
        lines.push(`      <failure message="${xml(message)}">${body}</failure>`);
      } else if (s.status === 'skipped') {
        lines.push(`      <skipped message="${xml(s.message ?? 'skipped')}"/>`);
      }
      lines.push(`      <system-out>${xmlLines([s.happened, s.auditLine && `audit: ${s.auditLine}`, s.proxyLine && `proxy: ${s.proxyLine}`, ...(s.flowLines ?? []).map((l) => `flow: ${l}`)])}</system-out>`);
      lines.push('    </testcase>');
    }
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>');
  return lines.join('\n') + '\n';
}
