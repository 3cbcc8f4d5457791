import { execa } from 'execa';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assertBuilt, binPath } from '../../helpers/bin.js';
import { api, useEmulator } from '../../helpers/emulator.js';

/** `sandbox exec`, run as a user runs the bin: output, exit codes and the official CLI's errors. */
const emu = useEmulator();
const client = api(() => emu.current);
beforeAll(() => assertBuilt());
beforeEach(async () => {
  await emu.current.reset();
});

const envFor = () => ({ SANDBOX0_BASE_URL: emu.current.apiUrl, SANDBOX0_TOKEN: emu.current.token });
const cli = (args: string[], env: Record<string, string> = envFor()) => execa('node', [binPath, ...args], { reject: false, env, extendEnv: true });
const claim = async () => (await client.post('/api/v1/sandboxes', { template: 'default' })).json.data.sandbox_id as string;

describe('sandbox exec (bin)', () => {
  it('prints the remote stdout and stderr apart and exits with the remote exit code', async () => {
    const id = await claim();
    const ok = await cli(['sandbox', 'exec', id, '--', 'sh', '-c', 'echo hello from the sandbox']);
    expect(ok).toMatchObject({ exitCode: 0, stdout: 'hello from the sandbox', stderr: '' });
    const failed = await cli(['sandbox', 'exec', id, '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(failed).toMatchObject({ exitCode: 3, stdout: 'out', stderr: 'err' });
    // --stream is accepted; the emulator prints the output once the command is done.
    const streamed = await cli(['sandbox', 'exec', id, '--stream', '--', 'sh', '-c', 'echo streamed; exit 4']);
    expect(streamed).toMatchObject({ exitCode: 4, stdout: 'streamed' });
    // The context is recorded on the API like the SDK's Cmd records it.
    const contexts = (await client.get(`/api/v1/sandboxes/${id}/contexts`)).json.data.contexts;
    expect(contexts.map((c: { command: string[] }) => c.command)).toContainEqual(['sh', '-c', 'echo out; echo err >&2; exit 3']);
  });

  it('passes --cwd, repeated --env (split at the first =) and --ttl, and keeps flags after -- for the command', async () => {
    const id = await claim();
    const r = await cli(['sandbox', 'exec', id, '--cwd', '/tmp', '--env', 'A=1', '--env', 'B=x=y', '--ttl', '30', '--', 'sh', '-c', 'pwd; echo "$A $B"']);
    expect(r).toMatchObject({ exitCode: 0, stdout: '/tmp\n1 x=y' });
    const contexts = (await client.get(`/api/v1/sandboxes/${id}/contexts`)).json.data.contexts;
    expect(contexts[0]).toMatchObject({ cwd: '/tmp', env_vars: { A: '1', B: 'x=y' } });
    // `-la` after -- belongs to the command, not to exec.
    const ls = await cli(['sandbox', 'exec', id, '--cwd', '/', '--', 'ls', '-d', '/tmp']);
    expect(ls).toMatchObject({ exitCode: 0, stdout: '/tmp' });
  });

  it('--no-wait returns at once with exit code 0 and no output', async () => {
    const id = await claim();
    const r = await cli(['sandbox', 'exec', id, '--no-wait', '--', 'sh', '-c', 'echo late; exit 5']);
    expect(r).toMatchObject({ exitCode: 0, stdout: '', stderr: '' });
  });

  it('reports misuse and API errors as the official CLI does', async () => {
    const id = await claim();
    const noCommand = await cli(['sandbox', 'exec', id]);
    expect(noCommand.exitCode).toBe(1);
    expect(noCommand.stderr).toBe("Error: requires at least 2 arg(s), only received 1\nRun 'sandbox-egress-emulator sandbox exec --help' for usage.");
    const badEnv = await cli(['sandbox', 'exec', id, '--env', 'BROKEN', '--', 'true']);
    expect(badEnv).toMatchObject({ exitCode: 1, stderr: 'Error: invalid env format "BROKEN", expected KEY=VALUE' });
    const noWaitStream = await cli(['sandbox', 'exec', id, '--no-wait', '--stream', '--', 'true']);
    expect(noWaitStream).toMatchObject({ exitCode: 1, stderr: 'Error: --no-wait cannot be used with streaming, interactive, or TTY exec' });
    const blank = await cli(['sandbox', 'exec', id, '--', ' ']);
    expect(blank).toMatchObject({ exitCode: 1, stderr: 'Error executing command: command cannot be empty' });
    const tty = await cli(['sandbox', 'exec', id, '-t', '--', 'true']);
    expect(tty.exitCode).toBe(1);
    expect(tty.stderr).toMatch(/^Error executing command: interactive and TTY exec are not supported/);
    const unknown = await cli(['sandbox', 'exec', 'sb-nope', '--', 'true']);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toMatch(/^Error executing command: sandbox0 API error \(404\): not_found - /);
    const noToken = await cli(['sandbox', 'exec', id, '--', 'true'], { SANDBOX0_BASE_URL: emu.current.apiUrl, SANDBOX0_TOKEN: '' });
    expect(noToken.exitCode).toBe(1);
    expect(noToken.stderr).toBe('Error creating client: no API token configured. Set SANDBOX0_TOKEN environment variable, use --token flag, or run `s0 auth login`');
  });

  it('shows the upstream usage line in --help', async () => {
    const r = await cli(['sandbox', 'exec', '--help']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('sandbox-egress-emulator sandbox exec <sandbox-id> -- <command> [args...] [flags]');
    expect(r.stdout).toMatch(/--env stringArray +environment variables \(KEY=VALUE, can be repeated\)/);
  });
});
