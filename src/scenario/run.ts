import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { adminClient, adminData } from '../api/admin/client.js';
import { startEmulator, type Emulator, type EmulatorOptions } from '../emulator.js';
import { applyScenario, scenarioContext, type ScenarioContext } from './apply.js';
import { renderScenarioText, type ScenarioResult, type StepResult } from './report.js';
import { parseScenario, ScenarioFileError, type Scenario } from './schema.js';
import { resolveSecrets } from './secrets.js';
import { runStep } from './steps.js';

export interface RunScenarioOptions {
  /** A running emulator to use instead of starting one (its state is changed; what can be is undone after). */
  attach?: { apiUrl: string; token: string };
  /** Options for the emulator the run starts (in memory, port 0); `interception` comes from the file. */
  emulator?: Omit<EmulatorOptions, 'interception' | 'ephemeral'>;
  /** Where `${secret:NAME}` values come from (`SEE_SECRET_<NAME>`); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** For the emulator the run starts: overrides the file's `emulator.interception`. */
  interception?: 'explicit' | 'transparent';
  /** Reject with `ScenarioFailedError` (its message is the report) when a step fails; default true. */
  throwOnFailure?: boolean;
}

/** A scenario that did not pass; `message` is the readable report, `result` the details. */
export class ScenarioFailedError extends Error {
  override readonly name = 'ScenarioFailedError';
  constructor(readonly result: ScenarioResult) {
    super(`scenario "${result.name}" failed\n${renderScenarioText(result)}`);
  }
}

/** Reads a YAML scenario file (secrets resolved) and validates it; throws `ScenarioFileError`. */
export async function loadScenario(file: string, env: NodeJS.ProcessEnv = process.env): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ScenarioFileError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ScenarioFileError(`${file} is not valid YAML: ${(err as Error).message}`);
  }
  return parseScenario(resolveSecrets(doc, env), file);
}

/**
 * Runs a scenario — a YAML file, or one already parsed — on a fresh in-memory emulator (or an attached
 * one): applies its setup, runs every step, checks the expectations. Resolves with the result; by
 * default rejects with `ScenarioFailedError` when it did not pass, so in vitest
 * `await runScenario('examples/scenarios/happy-path.yaml')` is the whole test.
 */
export async function runScenario(source: string | Scenario | Record<string, unknown>, options: RunScenarioOptions = {}): Promise<ScenarioResult> {
  const { attach, env = process.env, throwOnFailure = true } = options;
  const file = typeof source === 'string' ? source : undefined;
  const scenario = typeof source === 'string' ? await loadScenario(source, env) : parseScenario(resolveSecrets(source, env));
  const started = Date.now();
  let emulator: Emulator | undefined;
  let ctx: ScenarioContext;
  if (attach) {
    const admin = adminClient(attach.apiUrl, attach.token);
    const info = await adminData(admin.info.$get());
    ctx = scenarioContext(attach.apiUrl, attach.token, admin, info.interception.mode, true, info.testProxy?.address);
  } else {
    const wantTransparent = (options.interception ?? scenario.emulator?.interception) === 'transparent';
    emulator = await startEmulator({
      ...options.emulator,
      ephemeral: true,
      port: options.emulator?.port ?? 0,
      interception: wantTransparent ? 'auto' : 'explicit',
      ...(scenario.emulator?.udpEgress ? { udpEgress: scenario.emulator.udpEgress } : {}),
    });
    const info = emulator.info();
    ctx = scenarioContext(emulator.apiUrl, emulator.token, emulator.admin, info.interception.mode, false, info.testProxy?.address);
  }
  const result: ScenarioResult = {
    name: scenario.name,
    ...(file ? { file } : {}),
    passed: false,
    emulator: { apiUrl: ctx.apiUrl, interception: ctx.interception, attached: attach !== undefined },
    steps: [],
    durationMs: 0,
  };
  try {
    try {
      await applyScenario(ctx, scenario, { attached: attach !== undefined });
    } catch (err) {
      result.setupError = (err as Error).message;
    }
    if (!result.setupError) {
      const first = scenario.platform?.sandboxes?.[0]?.name;
      for (const [i, step] of scenario.steps.entries()) {
        const r: StepResult = await runStep(ctx, step, i + 1, first);
        result.steps.push(r);
      }
    }
  } finally {
    for (const undo of ctx.undo.reverse()) await undo().catch(() => undefined);
    await emulator?.stop();
  }
  result.passed = !result.setupError && result.steps.every((s) => s.status !== 'failed');
  result.durationMs = Date.now() - started;
  if (!result.passed && throwOnFailure) throw new ScenarioFailedError(result);
  return result;
}
