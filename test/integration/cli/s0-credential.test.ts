import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assertBuilt, binPath } from '../../helpers/bin.js';
import { useEmulator } from '../../helpers/emulator.js';

/** `credential list|get|create|update|delete`, run as a user runs the bin. */
const emu = useEmulator();
let dir = '';
beforeAll(() => {
  assertBuilt();
  dir = mkdtempSync(join(tmpdir(), 'see-s0-cred-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(async () => {
  await emu.current.reset();
});

const cli = (args: string[]) => execa('node', [binPath, ...args], { reject: false, env: { SANDBOX0_BASE_URL: emu.current.apiUrl, SANDBOX0_TOKEN: emu.current.token } });
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('credential (bin)', () => {
  it('creates from YAML, lists, gets, updates from JSON (version 2, positional name wins) and deletes', async () => {
    const yaml = file('src.yaml', 'name: corp-proxy-source\nresolverKind: static_username_password\nspec:\n  staticUsernamePassword:\n    username: proxy-user\n    password: proxy-pass\n');
    const created = await cli(['credential', 'create', '-f', yaml]);
    expect(created.exitCode).toBe(0);
    expect(created.stdout).toMatch(/^ Name: +corp-proxy-source$/m);
    expect(created.stdout).toMatch(/^ Resolver Kind: +static_username_password$/m);
    expect(created.stdout).toMatch(/^ Current Version: +1$/m);
    expect(created.stdout).not.toContain('proxy-pass');

    const list = await cli(['credential', 'list']);
    expect(list.stdout.split('\n')[0]).toMatch(/^ NAME +RESOLVER KIND +VERSION +STATUS +CREATED AT +UPDATED AT$/);
    expect(list.stdout).toMatch(/^ corp-proxy-source +static_username_password +1 +active +/m);
    const listJson = JSON.parse((await cli(['credential', 'list', '-o', 'json'])).stdout);
    expect(listJson).toEqual([expect.objectContaining({ name: 'corp-proxy-source', currentVersion: 1, status: 'active' })]);

    const json = file('src.json', JSON.stringify({ name: 'ignored-name', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'u2', password: 'p2' } } }));
    const updated = await cli(['credential', 'update', 'corp-proxy-source', '--file', json, '-o', 'json']);
    expect(updated.exitCode).toBe(0);
    expect(JSON.parse(updated.stdout)).toMatchObject({ name: 'corp-proxy-source', currentVersion: 2 });
    expect(updated.stdout).not.toContain('p2');

    const got = await cli(['credential', 'get', 'corp-proxy-source', '-o', 'yaml']);
    expect(got.stdout).toContain('currentVersion: 2\n');
    expect(got.stdout).toContain('name: corp-proxy-source\n');

    const deleted = await cli(['credential', 'delete', 'corp-proxy-source']);
    expect(deleted).toMatchObject({ exitCode: 0, stdout: 'Credential source corp-proxy-source deleted successfully' });
    expect((await cli(['credential', 'list'])).stdout).toBe('No credential sources found.');
  });

  it('rejects static_ssh_private_key and incomplete files before calling the API', async () => {
    const ssh = file('ssh.yaml', 'name: k\nresolverKind: static_ssh_private_key\nspec:\n  staticSSHPrivateKey:\n    privateKeyPem: x\n');
    const r = await cli(['credential', 'create', '-f', ssh]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe(
      'Error reading credential source spec: invalid resolverKind "static_ssh_private_key", must be one of: static_headers, static_tls_client_certificate, static_username_password',
    );
    const noName = await cli(['credential', 'update', 'x', '-f', file('noname.yaml', 'resolverKind: static_headers\nspec: {staticHeaders: {values: {a: b}}}\n')]);
    expect(noName.stderr).toBe('Error reading credential source spec: credential source name is required');
    const noFile = await cli(['credential', 'create']);
    expect(noFile).toMatchObject({ exitCode: 1, stderr: 'Error: --file is required' });
    expect((await cli(['credential', 'list'])).stdout).toBe('No credential sources found.');
  });

  it('prints API errors: duplicate, unknown, and a source still bound to a sandbox', async () => {
    const yaml = file('dup.yaml', 'name: corp-proxy-source\nresolverKind: static_username_password\nspec: {staticUsernamePassword: {username: u, password: p}}\n');
    expect((await cli(['credential', 'create', '-f', yaml])).exitCode).toBe(0);
    const dup = await cli(['credential', 'create', '-f', yaml]);
    expect(dup).toMatchObject({ exitCode: 1, stderr: 'Error creating credential source: sandbox0 API error (409): conflict - credential source already exists' });
    const unknown = await cli(['credential', 'get', 'nope']);
    expect(unknown).toMatchObject({ exitCode: 1, stderr: 'Error getting credential source: sandbox0 API error (404): not_found - credential source not found' });
    const updateUnknown = await cli(['credential', 'update', 'nope', '-f', yaml]);
    expect(updateUnknown.stderr).toBe('Error updating credential source: sandbox0 API error (404): not_found - credential source not found');

    const sandbox = JSON.parse((await cli(['sandbox', 'create', '-t', 'default', '-o', 'json'])).stdout) as { id: string };
    const bound = await cli(['sandbox', 'network', 'update', '-s', sandbox.id, '--mode', 'block-all', '--proxy', 'proxy.example.com:1080', '--proxy-credential-source', 'corp-proxy-source']);
    expect(bound.exitCode).toBe(0);
    const busy = await cli(['credential', 'delete', 'corp-proxy-source']);
    expect(busy).toMatchObject({ exitCode: 1, stderr: 'Error deleting credential source: sandbox0 API error (409): conflict - credential source is still referenced by sandbox bindings' });
  });
});
