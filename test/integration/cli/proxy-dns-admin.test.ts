import { execa } from 'execa';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assertBuilt, binPath } from '../../helpers/bin.js';
import { useEmulator } from '../../helpers/emulator.js';
import { emulatorInternals } from '../../../src/internals.js';

/** `proxy users|faults` and `dns platform|customer`: the running emulator's customer side, from the bin. */
const emu = useEmulator();
beforeAll(() => assertBuilt());
beforeEach(async () => {
  await emu.current.reset();
});
const cli = (args: string[]) => execa('node', [binPath, ...args], { reject: false, env: { SANDBOX0_BASE_URL: emu.current.apiUrl, SANDBOX0_TOKEN: emu.current.token }, extendEnv: true });

describe('proxy users (bin)', () => {
  it('lists usernames only and replaces the users with set', async () => {
    expect(await cli(['proxy', 'users'])).toMatchObject({ exitCode: 0, stdout: 'proxy-user' });
    const set = await cli(['proxy', 'users', 'set', 'alice:pw-one', 'bob:pw:two']);
    expect(set).toMatchObject({ exitCode: 0, stdout: 'alice\nbob' });
    expect(set.stdout + set.stderr).not.toContain('pw-one');
    expect(emu.current.proxy!.users).toEqual([
      { username: 'alice', password: 'pw-one' },
      { username: 'bob', password: 'pw:two' },
    ]);
    const bad = await cli(['proxy', 'users', 'set', 'nopassword']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/^Error: expected USER:PASSWORD/);
  });
});

describe('proxy faults (bin)', () => {
  it('adds from flags or JSON, lists and removes', async () => {
    const add = await cli(['proxy', 'faults', 'add', '--type', 'reset_after_bytes', '--attr', 'bytes=1024', '--name', 'cut-1k', '--match-host', 'api.internal.example.com', '--toxicity', '0.5']);
    expect(add.exitCode, add.stderr).toBe(0);
    expect(add.stdout).toBe('added cut-1k  reset_after_bytes  toxicity=0.5  attributes={"bytes":1024,"direction":"both"}  match={"host":"api.internal.example.com"}');
    expect((await cli(['proxy', 'faults', 'add', '{"type":"reject_domain_atyp"}'])).exitCode).toBe(0);
    expect(emu.current.proxy!.faults.list().map((f) => f.name)).toEqual(['cut-1k', 'reject_domain_atyp']);
    const list = await cli(['proxy', 'faults', 'list']);
    expect(list.stdout.split('\n')).toEqual([expect.stringMatching(/^cut-1k  reset_after_bytes/), 'reject_domain_atyp  reject_domain_atyp  toxicity=1']);
    expect((await cli(['proxy', 'faults', 'rm', 'cut-1k'])).stdout).toBe('removed cut-1k');
    expect(emu.current.proxy!.faults.list().map((f) => f.name)).toEqual(['reject_domain_atyp']);
  });

  it('reports what the API refuses and what the command line gets wrong', async () => {
    const dup = await cli(['proxy', 'faults', 'add', '--type', 'silent_close']);
    expect(dup.exitCode).toBe(0);
    const again = await cli(['proxy', 'faults', 'add', '--type', 'silent_close']);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toMatch(/^Error: 409 conflict: /);
    const badAttr = await cli(['proxy', 'faults', 'add', '--type', 'reset_after_bytes', '--attr', 'bytes=lots']);
    expect(badAttr.exitCode).toBe(1);
    expect(badAttr.stderr).toMatch(/^Error: 400 bad_request: attributes\.bytes/);
    const unknown = await cli(['proxy', 'faults', 'add', '--type', 'frobnicate']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('unknown fault type "frobnicate"');
    const missing = await cli(['proxy', 'faults', 'rm', 'nope']);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toMatch(/^Error: 404 not_found: no fault named "nope"/);
  });
});

describe('dns (bin)', () => {
  it('sets and removes platform records, and the sandbox resolves them', async () => {
    const set = await cli(['dns', 'platform', 'set', 'db.corp.example.com', '198.18.0.53', '198.18.0.54']);
    expect(set.exitCode, set.stderr).toBe(0);
    expect(set.stdout).toMatch(/^db\.corp\.example\.com +198\.18\.0\.53, 198\.18\.0\.54$/m);
    expect(emulatorInternals(emu.current).gateway.platformDns.resolve('db.corp.example.com')).toEqual(['198.18.0.53', '198.18.0.54']);
    const json = JSON.parse((await cli(['dns', 'platform', '--json'])).stdout);
    expect(json.records['db.corp.example.com']).toEqual(['198.18.0.53', '198.18.0.54']);
    expect((await cli(['dns', 'platform', 'rm', 'db.corp.example.com'])).exitCode).toBe(0);
    expect(emulatorInternals(emu.current).gateway.platformDns.resolve('db.corp.example.com')).toBeUndefined();
    const bad = await cli(['dns', 'platform', 'set', 'x.example', 'not-an-ip']);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(/^Error: 400 bad_request: /);
  });

  it('sets and removes customer records', async () => {
    expect((await cli(['dns', 'customer', 'set', 'db.corp.example.com:5432', '127.0.0.1:5432'])).exitCode).toBe(0);
    expect(emu.current.proxy!.customerDns['db.corp.example.com:5432']).toBe('127.0.0.1:5432');
    expect((await cli(['dns', 'customer'])).stdout).toMatch(/^db\.corp\.example\.com:5432 +127\.0\.0\.1:5432$/m);
    expect((await cli(['dns', 'customer', 'rm', 'db.corp.example.com:5432'])).exitCode).toBe(0);
    expect(emu.current.proxy!.customerDns['db.corp.example.com:5432']).toBeUndefined();
    const missing = await cli(['dns', 'customer', 'rm', 'nothing.example']);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain('no customer record "nothing.example"');
  });
});
