import { execa } from 'execa';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assertBuilt, binPath } from '../../helpers/bin.js';
import { useEmulator } from '../../helpers/emulator.js';

/** `sandbox create|get|list|delete` and the global flags, run as a user runs the bin. */
const emu = useEmulator();
beforeAll(() => assertBuilt());
beforeEach(async () => {
  await emu.current.reset();
});

const envFor = () => ({ SANDBOX0_BASE_URL: emu.current.apiUrl, SANDBOX0_TOKEN: emu.current.token });
const cli = (args: string[], env: Record<string, string> = envFor()) => execa('node', [binPath, ...args], { reject: false, env, extendEnv: true });

describe('sandbox create|get|list|delete (bin)', () => {
  it('creates a sandbox and shows it as a table, JSON and YAML', async () => {
    const table = await cli(['sandbox', 'create', '-t', 'default']);
    expect(table.exitCode).toBe(0);
    const id = /^ ID: +(sb-[0-9a-f]+)$/m.exec(table.stdout)?.[1];
    expect(id).toBeDefined();
    expect(table.stdout).toMatch(/^ Template: +default$/m);
    expect(table.stdout).toMatch(/^ Status: +running$/m);

    const json = await cli(['sandbox', 'create', '--template=default', '-o', 'json']);
    const created = JSON.parse(json.stdout);
    expect(Object.keys(created)).toEqual(expect.arrayContaining(['id', 'template', 'pod_name', 'status', 'bootstrap_mounts']));
    expect(created).toMatchObject({ template: 'default', status: 'running', bootstrap_mounts: null });

    const got = await cli(['sandbox', 'get', created.id, '-o', 'yaml']);
    expect(got.exitCode).toBe(0);
    expect(got.stdout).toContain(`id: ${created.id}\n`);
    expect(got.stdout).toContain('template_id: default\n');
    const gotTable = await cli(['sandbox', 'get', created.id]);
    expect(gotTable.stdout).toMatch(/^ Template ID: +default$/m);
    expect(gotTable.stdout).toMatch(/^ Claimed At: +\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/m);
    expect(gotTable.stdout).toMatch(/^ Hard Expires At: +-$/m);

    const list = await cli(['sandbox', 'list']);
    expect(list.stdout.split('\n')[0]).toMatch(/^ ID +TEMPLATE ID +STATUS +PAUSED +CREATED AT +HARD EXPIRES AT$/);
    expect(list.stdout).toContain(id!);
    expect(list.stdout).toContain(created.id);
    expect(list.stdout).toMatch(/^Total: 2$/m);
    const page = JSON.parse((await cli(['sandbox', 'list', '--limit', '1', '-o', 'json'])).stdout);
    expect(page).toMatchObject({ count: 2, has_more: true });
    expect(page.sandboxes).toHaveLength(1);
    expect((await cli(['sandbox', 'list', '--limit', '1'])).stdout).toMatch(/^Total: 2 \(more available\)$/m);

    const deleted = await cli(['sandbox', 'delete', created.id]);
    expect(deleted.exitCode).toBe(0);
    expect(deleted.stdout).toBe(`Sandbox ${created.id} deleted successfully`);
    const gone = await cli(['sandbox', 'get', created.id]);
    expect(gone.exitCode).toBe(1);
    expect(gone.stderr).toBe(`Error getting sandbox: sandbox0 API error (404): not_found - sandbox not found: sandbox "${created.id}" not found`);
  });

  it('prints "No sandboxes found." for an empty list', async () => {
    const r = await cli(['sandbox', 'list']);
    expect(r).toMatchObject({ exitCode: 0, stdout: 'No sandboxes found.' });
  });

  it('reports missing template, bad flags and API errors with exit code 1', async () => {
    const noTemplate = await cli(['sandbox', 'create']);
    expect(noTemplate.exitCode).toBe(1);
    expect(noTemplate.stderr).toBe('Error building sandbox create request: --template is required unless provided in config file');
    const unknownTemplate = await cli(['sandbox', 'create', '-t', 'nope']);
    expect(unknownTemplate.exitCode).toBe(1);
    expect(unknownTemplate.stderr).toMatch(/^Error creating sandbox: sandbox0 API error \(404\): not_found - /);
    const badInt = await cli(['sandbox', 'list', '--limit', 'ten']);
    expect(badInt.exitCode).toBe(1);
    expect(badInt.stderr).toContain('Error: invalid argument "ten" for "--limit" flag: strconv.ParseInt: parsing "ten": invalid syntax');
  });

  it('takes --api-url and --token over the environment, and fails without a token', async () => {
    const flags = await cli(['sandbox', 'list', '--api-url', emu.current.apiUrl, '--token', emu.current.token], { SANDBOX0_BASE_URL: 'http://127.0.0.1:9', SANDBOX0_TOKEN: '' });
    expect(flags.exitCode).toBe(0);
    const wrongToken = await cli(['sandbox', 'list', '--token', 's0_local_' + '00'.repeat(24)]);
    expect(wrongToken.exitCode).toBe(1);
    expect(wrongToken.stderr).toMatch(/^Error listing sandboxes: sandbox0 API error \(401\): unauthorized - /);
    const none = await cli(['sandbox', 'list'], { SANDBOX0_BASE_URL: emu.current.apiUrl, SANDBOX0_TOKEN: '' });
    expect(none.exitCode).toBe(1);
    expect(none.stderr).toBe('Error creating client: no API token configured. Set SANDBOX0_TOKEN environment variable, use --token flag, or run `s0 auth login`');
  });
});
