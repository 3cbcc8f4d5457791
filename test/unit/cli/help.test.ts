import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/program.js';
import { fakeIo } from './fake-io.js';

/**
 * `--help` everywhere: usage on stdout, exit code 0; usage errors on stderr, exit code 2. In-process,
 * with an unreachable API: nothing is started or contacted.
 */
const env = { SANDBOX0_BASE_URL: 'http://127.0.0.1:9', SANDBOX0_TOKEN: 's0_local_' + 'ab'.repeat(24) };

async function cli(args: string[]) {
  const f = fakeIo(env);
  const code = await main(args, f.io);
  return { code, stdout: f.stdout(), stderr: f.stderr() };
}

const commands: [string[], RegExp][] = [
  [[], /^Usage: sandbox-egress-emulator <command>/],
  [['start'], /^Usage: sandbox-egress-emulator start \[options\]/],
  [['run'], /^Usage: sandbox-egress-emulator run \[options\] -- <command>/],
  [['flows'], /Usage:\n {2}sandbox-egress-emulator flows \[flags\]/],
  [['evaluate'], /Usage:\n {2}sandbox-egress-emulator evaluate \[flags\]/],
  [['proxy'], /^Usage: sandbox-egress-emulator proxy <command>/],
  [['proxy', 'serve'], /^Usage: sandbox-egress-emulator proxy serve \[options\][^]*--fault <json>/],
  [['proxy', 'check'], /^Usage: sandbox-egress-emulator proxy check - --target host:port[^]*--target <host:port>/],
  [['sandbox'], /Available Commands:/],
  [['sandbox', 'exec'], /Usage:\n {2}sandbox-egress-emulator sandbox exec <sandbox-id> -- <command>/],
  [['sandbox', 'network', 'update'], /Usage:\n {2}sandbox-egress-emulator sandbox network update \[flags\]/],
  [['credential', 'create'], /Usage:\n {2}sandbox-egress-emulator credential create \[flags\]/],
  [['scenario'], /^Usage: sandbox-egress-emulator scenario <command>/],
  [['scenario', 'run'], /^Usage: sandbox-egress-emulator scenario run FILE\.\.\.[^]*\nExamples:\n {2}sandbox-egress-emulator scenario run /],
  [['scenario', 'record'], /^Usage: sandbox-egress-emulator scenario record[^]*\nExamples:\n {2}sandbox-egress-emulator scenario record -o /],
  [['proxy', 'users'], /^Usage: sandbox-egress-emulator proxy users[^]*\nExamples:\n {2}sandbox-egress-emulator proxy users\n/],
  [['proxy', 'faults'], /^Usage: sandbox-egress-emulator proxy faults[^]*\nExamples:\n {2}sandbox-egress-emulator proxy faults add --type reject_domain_atyp\n/],
  [['dns'], /^Usage: sandbox-egress-emulator dns <platform\|customer>[^]*\nExamples:\n {2}sandbox-egress-emulator dns platform set /],
  [['evaluate'], /Examples:\n {2}sandbox-egress-emulator evaluate -s sb-1 [^]*--app-protocol quic/],
  [['flows'], /Examples:\n {2}sandbox-egress-emulator flows\n/],
];

describe('--help and -h', () => {
  it.each(commands)('%j prints its usage to stdout and exits 0', async (words, usage) => {
    for (const flag of ['--help', '-h']) {
      const r = await cli([...words, flag]);
      expect(r, flag).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toMatch(usage);
    }
  });

  it('help <command> [subcommand] is the same as <command> [subcommand] --help', async () => {
    expect(await cli(['help', 'proxy', 'serve'])).toEqual(await cli(['proxy', 'serve', '--help']));
    expect(await cli(['help', 'evaluate'])).toEqual(await cli(['evaluate', '--help']));
    expect(await cli(['help'])).toEqual(await cli(['--help']));
  });

  it('the subcommand help wins over a missing required argument', async () => {
    // proxy check needs a proxy URL and --target; asking for help needs neither.
    expect((await cli(['proxy', 'check', '--help'])).code).toBe(0);
    expect((await cli(['run', '--help'])).code).toBe(0);
  });
});

describe('usage errors', () => {
  it.each([
    [['proxy', 'serve', '--bogus'], "Error: Unknown option '--bogus'", /^Usage: sandbox-egress-emulator proxy serve/m],
    [['proxy', 'check', '--bogus'], "Error: Unknown option '--bogus'", /^Usage: sandbox-egress-emulator proxy check/m],
    [['proxy', 'check', '--target', 'a:1'], 'Error: proxy check expects a proxy URL', /^Usage: sandbox-egress-emulator proxy check/m],
    [['proxy', 'serve', '--user', 'nopassword'], 'Error: --user expects USER:PASSWORD', /^Usage: sandbox-egress-emulator proxy serve/m],
    [['proxy'], 'Error: a command is required: serve, check, users or faults', /^Usage: sandbox-egress-emulator proxy <command>/m],
    [['proxy', 'frob'], 'Error: unknown command "frob" for "sandbox-egress-emulator proxy"', /^Usage: sandbox-egress-emulator proxy <command>/m],
    [['start', '--bogus'], "Error: Unknown option '--bogus'", /^Usage: sandbox-egress-emulator start/m],
    [['run', '--bogus', '--', 'true'], "Error: Unknown option '--bogus'", /^Usage: sandbox-egress-emulator run/m],
    [['run', '--'], 'Error: a command to run is required after --', /^Usage: sandbox-egress-emulator run/m],
    [[], 'Error: a command is required', /^Usage: sandbox-egress-emulator <command>/m],
    [['frob'], 'Error: unknown command "frob" for "sandbox-egress-emulator"', /^Usage: sandbox-egress-emulator <command>/m],
  ])('%j: the error and the usage on stderr, exit code 2', async (args, error, usage) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.startsWith(`${error}`)).toBe(true);
    expect(r.stderr).toMatch(usage);
  });
});
