import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { parseScenario } from '../../../src/scenario/schema.js';
import { assertBuilt, binPath, repoRoot } from '../../helpers/bin.js';
import { api, useEmulator } from '../../helpers/emulator.js';
import { examplesDir, exampleFiles, loadExample, mutations } from '../../helpers/scenario-mutations.js';

/** `scenario run|record|schema` run as a user runs the bin. */
let dir: string;
beforeAll(() => {
  assertBuilt();
  dir = mkdtempSync(join(tmpdir(), 'see-scenario-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const cli = (args: string[], env: Record<string, string> = {}) => execa('node', [binPath, ...args], { reject: false, env, extendEnv: true, cwd: repoRoot, timeout: 240_000 });

describe('scenario run (bin)', () => {
  it('passes every example, prints a report per file, writes JUnit XML, exits 0', { timeout: 240_000 }, async () => {
    const junit = join(dir, 'examples.xml');
    const files = exampleFiles.map((f) => join('examples', 'scenarios', f));
    const r = await cli(['scenario', 'run', ...files, '--junit', junit]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`${files.length} of ${files.length} scenarios passed`);
    expect(r.stdout).not.toMatch(/^ +FAIL /m);
    expect(r.stdout).toContain('Scenario: The docs\' happy path (examples/scenarios/docs-happy-path.yaml)');
    expect(r.stdout).toMatch(/audit: flow tcp-\d+ tcp 198\.18\.0\.10:443 protocol=tls host=api\.internal\.example\.com action=use-adapter/);
    expect(r.stdout).toMatch(/proxy: #\d+ user=proxy-user auth=accepted atyp=domain target=api\.internal\.example\.com:443 .*reply=0x08 address type not supported/);
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toMatch(/<testsuites name="sandbox-egress-emulator scenarios" tests="\d+" failures="0">/);
    expect(xml.match(/<testsuite /g)).toHaveLength(files.length);
  });

  it('fails (exit 1) when an example expects the wrong outcome, naming the step and the difference', { timeout: 240_000 }, async () => {
    const cases = exampleFiles.map((f) => {
      const m = mutations(loadExample(f))[0]!;
      const path = join(dir, `wrong-${f}`);
      writeFileSync(path, toYaml(m.doc));
      return { path, m };
    });
    const junit = join(dir, 'wrong.xml');
    const r = await cli(['scenario', 'run', ...cases.map((c) => c.path), '--junit', junit]);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stdout).toContain(`0 of ${cases.length} scenarios passed`);
    const reports = r.stdout.split(/^(?=Scenario: )/m).filter((s) => s.startsWith('Scenario: '));
    expect(reports).toHaveLength(cases.length);
    for (const [i, { m }] of cases.entries()) {
      expect(reports[i]).toContain(`FAIL step ${m.step} "${m.stepName}"`);
      expect(reports[i]).toMatch(new RegExp(`expected ${m.path.replace(/\./g, '\\.')}( containing)?: `));
      expect(reports[i]).toContain(`got      ${m.path}: `);
    }
    expect(readFileSync(junit, 'utf8')).toContain(`failures="${cases.length}"`);
  });

  it('prints JSON with --json', { timeout: 60_000 }, async () => {
    const r = await cli(['scenario', 'run', join(examplesDir, 'proxy-without-atyp-domain.yaml'), '--json']);
    expect(r.exitCode).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.passed).toBe(true);
    expect(out.scenarios[0].steps[0]).toMatchObject({ index: 1, status: 'passed', got: { errorStep: 'proxy_reply', proxy: { replyCode: 8, atyp: 'domain' } } });
  });

  it('refuses an invalid file with exit code 2 and the problems', async () => {
    const path = join(dir, 'invalid.yaml');
    writeFileSync(path, 'name: x\nsteps:\n  - connect: { port: 443 }\n');
    const r = await cli(['scenario', 'run', path]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('steps.0.connect: host or ip is required');
  });

  it('prints the JSON Schema, the same as the shipped file', async () => {
    const r = await cli(['scenario', 'schema']);
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(readFileSync(join(repoRoot, 'fixtures', 'scenario.schema.json'), 'utf8')));
  });
});

describe('scenario record (bin)', () => {
  const emu = useEmulator();
  const client = api(() => emu.current);
  const sourcePassword = 'Rec0rd-me-n0t-s3cret-A';
  const stalePassword = 'St4le-pa55word-never-written';

  it('records a hand-made reproduction as a file that passes on a fresh emulator and holds no secret', { timeout: 240_000 }, async () => {
    // A support engineer's reproduction, by hand through the APIs: the customer's proxy password, a
    // proxy that rejects hostnames for one service, a stale credential source for a second sandbox.
    expect((await client.put('/_emulator/proxy/users', { users: [{ username: 'acme', password: sourcePassword }] })).status).toBe(200);
    expect((await client.post('/_emulator/proxy/faults', { name: 'no-names-for-identify', type: 'reject_domain_atyp', match: { host: 'identify.internal.example.com' } })).status).toBe(201);
    const platform = (await client.get('/_emulator/dns/platform')).json.data.records;
    expect((await client.put('/_emulator/dns/platform', { records: { ...platform, 'blocked.example.net': ['198.18.0.53'] } })).status).toBe(200);
    for (const [name, password] of [['acme-proxy', sourcePassword], ['acme-stale', stalePassword]]) {
      const created = await client.post('/api/v1/credential-sources', { name, resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'acme', password } } });
      expect(created.status).toBe(201);
    }
    const policy = (sourceRef: string) => ({
      mode: 'block-all',
      egress: {
        trafficRules: [
          { name: 'api', action: 'allow', domains: ['api.internal.example.com'], ports: [{ port: 443, protocol: 'tcp' }], appProtocols: ['tls'] },
          { name: 'identify', action: 'allow', domains: ['identify.internal.example.com'], ports: [{ port: 80, protocol: 'tcp' }] },
        ],
        proxy: { type: 'socks5', address: 'proxy.example.com:1080', credentialRef: 'corp' },
      },
      credentialBindings: [{ ref: 'corp', sourceRef, projection: { type: 'username_password', usernamePassword: {} } }],
    });
    const good = (await client.post('/api/v1/sandboxes', { template: 'default' })).json.data.sandbox_id as string;
    const stale = (await client.post('/api/v1/sandboxes', { template: 'default' })).json.data.sandbox_id as string;
    expect((await client.put(`/api/v1/sandboxes/${good}/network`, policy('acme-proxy'))).status).toBe(200);
    expect((await client.put(`/api/v1/sandboxes/${stale}/network`, policy('acme-stale'))).status).toBe(200);
    expect((await client.put(`/_emulator/sandboxes/${good}/hosts`, { hosts: { 'db.corp.example.com': ['198.18.0.54'] } })).status).toBe(200);
    const probe = async (id: string, body: Record<string, unknown>) => (await client.post(`/_emulator/sandboxes/${id}/probe`, body)).json.data;
    expect((await probe(good, { host: 'api.internal.example.com', port: 443, send: 'tls-client-hello' })).outcome).toBe('completed');
    expect(await probe(good, { host: 'identify.internal.example.com', port: 80, send: 'http-get' })).toMatchObject({ outcome: 'error', proxySaw: { replyCode: 8 } });
    expect((await probe(good, { host: 'blocked.example.net', port: 443, send: 'tls-client-hello' })).outcome).toBe('denied');
    expect(await probe(stale, { host: 'api.internal.example.com', port: 443, send: 'tls-client-hello' })).toMatchObject({ outcome: 'error', errorStep: 'proxy_auth' });
    expect((await probe(good, { host: 'api.internal.example.com', port: 443, send: 'quic-initial' })).outcome).toBe('denied');

    const file = join(dir, 'recorded.yaml');
    const env = { SANDBOX0_BASE_URL: emu.current.apiUrl, SANDBOX0_TOKEN: emu.current.token };
    const rec = await cli(['scenario', 'record', '-o', file, '--name', 'ACME proxy issue'], env);
    expect(rec.exitCode, rec.stderr).toBe(0);
    expect(rec.stderr).toContain(`Recorded 5 step(s) to ${file}`);
    const text = readFileSync(file, 'utf8');
    for (const secret of [sourcePassword, stalePassword, emu.current.token]) expect(text).not.toContain(secret);
    const doc = parseYaml(text);
    parseScenario(doc);
    // Equal secrets share a placeholder, different ones do not.
    const sources = Object.fromEntries(doc.platform.credentialSources.map((s: any) => [s.name, s.spec.staticUsernamePassword.password]));
    expect(doc.customer.proxy.users).toEqual([{ username: 'acme', password: '${secret:acme-password}' }]);
    expect(sources['acme-proxy']).toBe('${secret:acme-password}');
    expect(sources['acme-stale']).toMatch(/^\$\{secret:acme-stale-password\}$/);
    expect(doc.customer.proxy.faults).toEqual([{ name: 'no-names-for-identify', type: 'reject_domain_atyp', toxicity: 1, attributes: {}, match: { host: 'identify.internal.example.com' } }]);
    expect(doc.platform.dns).toEqual({ 'blocked.example.net': ['198.18.0.53'] });
    // The outcomes became the expectations.
    expect(doc.steps.map((s: any) => s.expect.outcome)).toEqual(['completed', 'error', 'denied', 'error', 'denied']);
    expect(doc.steps[1].expect).toMatchObject({ errorStep: 'proxy_reply', proxy: { replyCode: 8 }, proxyTarget: { atyp: 'domain' } });
    expect(doc.steps[3].expect).toMatchObject({ errorStep: 'proxy_auth' });
    expect(doc.steps[4].quic).toMatchObject({ host: 'api.internal.example.com', port: 443 });

    // Replayed on a fresh emulator (the CLI starts one), in a clean environment: every step passes.
    const run = await cli(['scenario', 'run', file], { SANDBOX0_TOKEN: '', SANDBOX0_BASE_URL: '' });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.stdout.match(/^ +PASS step/gm)).toHaveLength(5);
    expect(run.stdout).toContain('error at proxy_auth');
    expect(run.stdout).not.toContain(emu.current.apiUrl);
  });

  it('scenario run --attach uses the running emulator, with the token from the environment', { timeout: 60_000 }, async () => {
    const file = join(examplesDir, 'proxy-without-atyp-domain.yaml');
    const r = await cli(['scenario', 'run', file, '--attach', emu.current.apiUrl], { SANDBOX0_TOKEN: emu.current.token });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`Emulator: ${emu.current.apiUrl} (attached, explicit interception)`);
    expect(emu.current.flows().some((e) => e.attributes.proxy_reply_code === 8)).toBe(true);
    const noToken = await cli(['scenario', 'run', file, '--attach', emu.current.apiUrl], { SANDBOX0_TOKEN: '' });
    expect(noToken.exitCode).toBe(2);
    expect(noToken.stderr).toMatch(/^Error: --attach needs the emulator's token/);
  });
});
