import { describe, expect, it } from 'vitest';
import { run as credential } from '../../../src/cli/commands/credential.js';
import { run as sandbox } from '../../../src/cli/commands/sandbox.js';
import { run as runCommand, splitRunArgs } from '../../../src/cli/commands/run.js';
import { fakeIo } from './fake-io.js';

/**
 * Command-line handling that fails before any request: these run in-process with no API at all
 * (an unreachable loopback URL proves nothing is contacted).
 */
const env = { SANDBOX0_BASE_URL: 'http://127.0.0.1:9', SANDBOX0_TOKEN: 's0_local_' + 'ab'.repeat(24) };

async function exec(cmd: typeof sandbox, args: string[], e: NodeJS.ProcessEnv = env) {
  const f = fakeIo(e);
  const code = await cmd(args, f.io);
  return { code, stdout: f.stdout(), stderr: f.stderr() };
}

describe('s0-compatible command handling', () => {
  it('requires -s on the network group, like cobra', async () => {
    const r = await exec(sandbox, ['network', 'get']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`Error: required flag(s) "sandbox-id" not set\nRun 'sandbox-egress-emulator sandbox network get --help' for usage.\n`);
  });

  it('checks argument counts and unknown flags', async () => {
    expect((await exec(sandbox, ['get'])).stderr).toContain('Error: accepts 1 arg(s), received 0');
    expect((await exec(credential, ['delete', 'a', 'b'])).stderr).toContain('Error: accepts 1 arg(s), received 2');
    const bad = await exec(sandbox, ['network', 'update', '-s', 'x', '--mdoe', 'block-all']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('Error: unknown flag: --mdoe');
    expect((await exec(sandbox, ['frobnicate'])).stderr).toContain('Error: unknown command "frobnicate" for "sandbox-egress-emulator sandbox"');
  });

  it('fails with the official no-token message before building anything', async () => {
    const r = await exec(sandbox, ['network', 'update', '-s', 'x'], { SANDBOX0_BASE_URL: 'http://127.0.0.1:9' });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'Error creating client: no API token configured. Set SANDBOX0_TOKEN environment variable, use --token flag, or run `s0 auth login`\n',
    );
  });

  it('builds the policy before calling the API, so flag errors need no server', async () => {
    const r = await exec(sandbox, ['network', 'update', '-s', 'x', '--mode', 'block-all', '--proxy', 'socks5://u:p@proxy.example.com:1080']);
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'Error building network policy: --proxy must not include credentials; use --proxy-credential-source instead\n' });
  });

  it('credential create/update need --file and read it before the client', async () => {
    expect(await exec(credential, ['create'], {})).toEqual({ code: 1, stdout: '', stderr: 'Error: --file is required\n' });
    const missing = await exec(credential, ['update', 'n', '-f', '/nonexistent/cred.yaml'], {});
    expect(missing.stderr).toBe('Error reading credential source spec: open /nonexistent/cred.yaml: no such file or directory\n');
  });

  it('reports an unreachable API like the Go client', async () => {
    const r = await exec(credential, ['list']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Error listing credential sources: Get "http:\/\/127\.0\.0\.1:9\/api\/v1\/credential-sources": /);
  });

  it('prints help with the flags, defaults and global flags', async () => {
    const r = await exec(sandbox, ['network', 'update', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage:\n  sandbox-egress-emulator sandbox network update [flags]');
    expect(r.stdout).toMatch(/--proxy-credential-source string +credential source name for --proxy username_password binding/);
    expect(r.stdout).toMatch(/-s, --sandbox-id string +sandbox ID \(required\)/);
    expect(r.stdout).toMatch(/-o, --output string +output format \(table, json, yaml\) \(default "table"\)/);
    const group = await exec(credential, []);
    expect(group.code).toBe(0);
    expect(group.stdout).toMatch(/Available Commands:\n {2}list +List credential sources/);
  });
});

describe('run argument handling', () => {
  it('splits its own options from the command, with or without --', () => {
    expect(splitRunArgs(['--port', '0', '--', 'npm', '--version'])).toEqual({ own: ['--port', '0'], command: ['npm', '--version'] });
    expect(splitRunArgs(['--log-level', 'silent', 'node', '-e', '1'])).toEqual({ own: ['--log-level', 'silent'], command: ['node', '-e', '1'] });
    expect(splitRunArgs(['--ephemeral'])).toEqual({ own: ['--ephemeral'], command: [] });
  });

  it('needs a command and rejects unknown options with exit code 2', async () => {
    expect((await exec(runCommand, ['--'])).code).toBe(2);
    const r = await exec(runCommand, ['--nope', '--', 'true']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Unknown option '--nope'");
  });
});
