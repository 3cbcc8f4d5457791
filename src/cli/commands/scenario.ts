import { writeFile } from 'node:fs/promises';
import { stringify as toYaml } from 'yaml';
import { adminData } from '../../api/admin/client.js';
import { adminFor, adminTargetHelp, adminTargetOptions } from '../admin-target.js';
import { noEmulatorTokenMessage } from '../s0/emulator-target.js';
import { renderJunit, renderScenarioText, type ScenarioResult } from '../../scenario/report.js';
import { runScenario } from '../../scenario/run.js';
import { scenarioJsonSchema, ScenarioFileError } from '../../scenario/schema.js';
import { terminalSafeJson } from '../../text/control-chars.js';
import { parseCommandArgs, usageFailure, UsageError, withUsage } from '../args.js';
import type { CliCommand, CliIo } from '../io.js';

/** `scenario run|record|schema`: reproduce a customer's proxy issue from one YAML file. */

const runHelp = `Usage: sandbox-egress-emulator scenario run FILE... [options]

Runs scenario files: starts an emulator in memory for each (or attaches to a running one), applies
the file's setup, runs its steps and checks their expectations. Prints, per step, what happened,
expected vs got, the flow's audit line and the proxy's log line. Exit code 0 when every scenario
passed, 1 otherwise (2 for a bad command line or an invalid file).

Options:
  --attach <url>        use the emulator at this URL (token: --token or SANDBOX0_TOKEN) instead of
                        starting one; its state is changed (DNS views and faults are restored after)
  --token <token>       the attached emulator's token (default SANDBOX0_TOKEN)
  --interception <explicit|transparent>
                        for the emulator the run starts (default: the file's emulator.interception,
                        else explicit); transparent needs root or CAP_NET_ADMIN and falls back to
                        explicit (exec steps are then skipped)
  --json                print the results as JSON
  --junit <file>        also write JUnit XML (one testsuite per file, one testcase per step)
  -h, --help            print this help

Secrets: \${secret:NAME} in a file is SEE_SECRET_<NAME> from the environment, else a value made up
for the run (the same for every use of NAME in the file).

Examples:
  sandbox-egress-emulator scenario run examples/scenarios/*.yaml
  sandbox-egress-emulator scenario run repro.yaml --junit scenario-report.xml
  SANDBOX0_TOKEN=... sandbox-egress-emulator scenario run repro.yaml --attach http://127.0.0.1:8080
`;

const recordHelp = `Usage: sandbox-egress-emulator scenario record [-o FILE] [options]

Writes a running emulator's state as a scenario: sandboxes with their network policy and hosts
entries, credential sources, platform and customer DNS records and proxy users and faults that
differ from the defaults, and every flow seen so far as a step expecting what happened. Secrets are
\${secret:NAME} placeholders (equal secrets share a NAME, so the replay fails or passes as the
original did). Reproduce the issue by hand once, record, hand the file over.

Options:
  -o, --output <file>   where to write the YAML (default: stdout)
  --name <name>         the scenario's name (default "Recorded scenario")
  --include-secrets     put the test proxy users' passwords (and credential-source secrets equal to
                        them) in clear; credential-source secrets stay placeholders otherwise
${adminTargetHelp}  -h, --help            print this help

Examples:
  sandbox-egress-emulator scenario record -o repro.yaml --name "ACME: proxy rejects hostnames"
  sandbox-egress-emulator scenario run repro.yaml
`;

const usage = `Usage: sandbox-egress-emulator scenario <command> [options]

Commands:
  run FILE...           run scenario files and report (exit code 0/1)
  record [-o FILE]      write a running emulator's state and flows as a scenario
  schema                print the scenario file's JSON Schema

Options:
  -h, --help            print this help

Run 'sandbox-egress-emulator scenario <command> --help' for a command's options.
`;

async function runCommand(args: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(io, runHelp, {
    args,
    allowPositionals: true,
    options: { attach: { type: 'string' }, token: { type: 'string' }, interception: { type: 'string' }, json: { type: 'boolean' }, junit: { type: 'string' } },
  });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (positionals.length === 0) throw new UsageError('at least one scenario FILE is required');
  const interception = values.interception;
  if (interception !== undefined && interception !== 'explicit' && interception !== 'transparent') throw new UsageError('--interception is explicit or transparent');
  const token = values.token || io.env.SANDBOX0_TOKEN || '';
  if (values.attach && !token) throw new UsageError(`--attach needs the emulator's token: ${noEmulatorTokenMessage}`);
  const results: ScenarioResult[] = [];
  for (const file of positionals) {
    let result: ScenarioResult;
    try {
      result = await runScenario(file, {
        throwOnFailure: false,
        env: io.env,
        ...(values.attach ? { attach: { apiUrl: values.attach, token } } : {}),
        ...(interception ? { interception } : {}),
      });
    } catch (err) {
      if (err instanceof ScenarioFileError) {
        io.stderr.write(`Error: ${err.message}\n`);
        return 2;
      }
      throw err;
    }
    results.push(result);
    if (!values.json) io.stdout.write(renderScenarioText(result) + (positionals.length > 1 ? '\n' : ''));
  }
  const passed = results.every((r) => r.passed);
  if (values.json) io.stdout.write(terminalSafeJson({ passed, scenarios: results }, 2) + '\n');
  else if (results.length > 1) io.stdout.write(`${results.filter((r) => r.passed).length} of ${results.length} scenarios passed\n`);
  if (values.junit) await writeFile(values.junit, renderJunit(results));
  return passed ? 0 : 1;
}

/** The recorded document as YAML, with a schema hint for editors. */
export function recordedYaml(scenario: unknown): string {
  const header = '# yaml-language-server: $schema=https://unpkg.com/sandbox-egress-emulator/fixtures/scenario.schema.json\n';
  const text = toYaml(scenario, { lineWidth: 0 });
  // The yaml writer leaves C1 and bidi controls (from sandbox-supplied names) raw; JSON is YAML too.
  return header + (/[\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/.test(text) ? terminalSafeJson(scenario, 2) + '\n' : text);
}

async function recordCommand(args: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(io, recordHelp, {
    args,
    allowPositionals: false,
    options: { output: { type: 'string', short: 'o' }, name: { type: 'string' }, 'include-secrets': { type: 'boolean' }, ...adminTargetOptions },
  });
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const admin = adminFor(values, io);
  const { scenario } = await adminData(admin.scenario.record.$get({ query: { ...(values.name ? { name: values.name } : {}), ...(values['include-secrets'] ? { include_secrets: '1' } : {}) } }));
  const text = recordedYaml(scenario);
  if (values.output) {
    await writeFile(values.output, text);
    const steps = Array.isArray((scenario as { steps?: unknown[] }).steps) ? (scenario as { steps: unknown[] }).steps.length : 0;
    io.stderr.write(`Recorded ${steps} step(s) to ${values.output}; replay with: sandbox-egress-emulator scenario run ${values.output}\n`);
  } else {
    io.stdout.write(text);
  }
  return 0;
}

export const run: CliCommand = async (args, io) => {
  const [sub, ...rest] = args;
  if (sub === 'run') return withUsage(runHelp, io, () => runCommand(rest, io));
  if (sub === 'record') return withUsage(recordHelp, io, () => recordCommand(rest, io));
  if (sub === 'schema') {
    io.stdout.write(JSON.stringify(scenarioJsonSchema(), null, 2) + '\n');
    return 0;
  }
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    io.stdout.write(usage);
    return 0;
  }
  return usageFailure(io, usage, sub === undefined ? 'a command is required: run, record or schema' : `unknown command "${sub}" for "sandbox-egress-emulator scenario"`);
};
