import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assertBuilt, binPath } from '../../helpers/bin.js';
import { useEmulator } from '../../helpers/emulator.js';

/** `sandbox network get|update` run as a user runs the bin, against an in-process emulator. */
const emu = useEmulator();
let dir = '';
beforeAll(() => {
  assertBuilt();
  dir = mkdtempSync(join(tmpdir(), 'see-s0-net-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(async () => {
  await emu.current.reset();
});

const envFor = () => ({ SANDBOX0_BASE_URL: emu.current.apiUrl, SANDBOX0_TOKEN: emu.current.token });
const cli = (args: string[], opts: { input?: string; env?: Record<string, string> } = {}) =>
  execa('node', [binPath, ...args], { reject: false, env: { ...envFor(), ...opts.env }, input: opts.input ?? '' });

async function newSandbox(): Promise<string> {
  const r = await cli(['sandbox', 'create', '-t', 'default', '-o', 'json']);
  expect(r.exitCode).toBe(0);
  return (JSON.parse(r.stdout) as { id: string }).id;
}

async function newProxySource(name = 'corp-proxy-source') {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `name: ${name}\nresolverKind: static_username_password\nspec:\n  staticUsernamePassword:\n    username: proxy-user\n    password: proxy-pass\n`);
  const r = await cli(['credential', 'create', '-f', file]);
  expect(r.exitCode).toBe(0);
}

const docsCommand =
  'sandbox network update -s "$ID" --mode block-all --allow-domain api.internal.example.com --allow-port 443/tcp --proxy socks5://proxy.example.com:1080 --proxy-credential-ref corp-proxy --proxy-credential-source corp-proxy-source';

describe('sandbox network update / get (bin)', () => {
  it("runs the Sandbox0 docs' command as written, then `network get -o json` shows the proxy and the binding", async () => {
    await newProxySource();
    const id = await newSandbox();
    // Through a shell, exactly as the docs write it (with `s0` replaced by this bin).
    const update = await execa('sh', ['-c', `node "${binPath}" ${docsCommand}`], { reject: false, env: { ...envFor(), ID: id } });
    expect(update.stderr).toBe('');
    expect(update.exitCode).toBe(0);
    expect(update.stdout).toMatch(/^ Mode: +block-all$/m);
    expect(update.stdout).toMatch(/^ Proxy: +socks5 proxy\.example\.com:1080$/m);
    expect(update.stdout).toMatch(/^ Proxy Credential: +corp-proxy$/m);
    expect(update.stdout).toMatch(/^ Credential Bindings: +1$/m);

    const got = await cli(['sandbox', 'network', 'get', '-s', id, '-o', 'json']);
    expect(got.exitCode).toBe(0);
    expect(JSON.parse(got.stdout)).toEqual({
      mode: 'block-all',
      egress: {
        allowedDomains: ['api.internal.example.com'],
        allowedPorts: [{ port: 443, protocol: 'tcp' }],
        proxy: { type: 'socks5', address: 'proxy.example.com:1080', credentialRef: 'corp-proxy' },
      },
      credentialBindings: [{ ref: 'corp-proxy', sourceRef: 'corp-proxy-source', projection: { type: 'username_password', usernamePassword: {} } }],
    });
    const yaml = await cli(['sandbox', 'network', 'get', '-s', id, '-o', 'yaml']);
    expect(yaml.stdout).toContain('  proxy:\n    address: proxy.example.com:1080\n    credentialRef: corp-proxy\n    type: socks5\n');
    expect(yaml.stdout.startsWith('credentialBindings:\n')).toBe(true);
    // Flags may come in any order, global flags after the command words too.
    const table = await cli(['sandbox', 'network', '-o', 'table', 'get', `--sandbox-id=${id}`]);
    expect(table.stdout).toMatch(/Allowed Domains: +\[api\.internal\.example\.com\]/);
  });

  it('--proxy-credential-ref alone leaves credentialBindings out, so the stored binding is kept', async () => {
    await newProxySource();
    const id = await newSandbox();
    expect((await cli(['sandbox', 'network', 'update', '-s', id, '--mode', 'block-all', '--proxy', 'proxy.example.com:1080', '--proxy-credential-source', 'corp-proxy-source'])).exitCode).toBe(0);
    const again = await cli(['sandbox', 'network', 'update', '-s', id, '--mode', 'block-all', '--proxy', 'proxy.example.com:1080', '--proxy-credential-ref', 'egress-proxy', '-o', 'json']);
    expect(again.exitCode).toBe(0);
    const policy = JSON.parse(again.stdout);
    expect(policy.egress.proxy).toEqual({ type: 'socks5', address: 'proxy.example.com:1080', credentialRef: 'egress-proxy' });
    expect(policy.credentialBindings).toEqual([{ ref: 'egress-proxy', sourceRef: 'corp-proxy-source', projection: { type: 'username_password', usernamePassword: {} } }]);
  });

  it('takes a whole policy with -f from a file or from stdin', async () => {
    const id = await newSandbox();
    const file = join(dir, 'policy.yaml');
    writeFileSync(file, 'mode: block-all\negress:\n  trafficRules:\n    - name: api\n      action: allow\n      domains: [api.internal.example.com]\n      ports: [{port: 443, protocol: tcp}]\n');
    const fromFile = await cli(['sandbox', 'network', 'update', '-s', id, '-f', file, '-o', 'json']);
    expect(fromFile.exitCode).toBe(0);
    expect(JSON.parse(fromFile.stdout).egress.trafficRules).toEqual([{ name: 'api', action: 'allow', domains: ['api.internal.example.com'], ports: [{ port: 443, protocol: 'tcp' }] }]);
    const fromStdin = await cli(['sandbox', 'network', 'update', '-s', id, '--policy-file', '-', '-o', 'json'], { input: '{"mode":"allow-all"}' });
    expect(fromStdin.exitCode).toBe(0);
    expect(JSON.parse(fromStdin.stdout)).toEqual({ mode: 'allow-all' });
  });

  it('repeats --allow-*/--deny-* and --traffic-rule values', async () => {
    const id = await newSandbox();
    const legacy = await cli(['sandbox', 'network', 'update', '-s', id, '--mode', 'block-all', '--allow-cidr', '198.18.0.0/24', '--allow-cidr', '198.18.1.0/24', '--deny-domain', 'bad.example', '--deny-port', '8000-8100/udp', '-o', 'json']);
    expect(legacy.exitCode).toBe(0);
    expect(JSON.parse(legacy.stdout).egress).toEqual({ allowedCidrs: ['198.18.0.0/24', '198.18.1.0/24'], deniedDomains: ['bad.example'], deniedPorts: [{ port: 8000, protocol: 'udp', endPort: 8100 }] });
    const rules = await cli(['sandbox', 'network', 'update', '-s', id, '--mode', 'block-all', '--traffic-rule', '{"name":"a","action":"allow","domains":["a.example"]}', '--traffic-rule', 'name: b\naction: deny\ncidrs: [198.18.0.0/15]', '-o', 'json']);
    expect(rules.exitCode).toBe(0);
    expect(JSON.parse(rules.stdout).egress.trafficRules.map((r: { name: string }) => r.name)).toEqual(['a', 'b']);
  });

  it.concurrent.for<[string, string[], string]>([
    ['no --mode', [], '--mode is required unless --policy-file is provided'],
    ['-f with other flags', ['-f', 'policy.yaml', '--mode', 'block-all'], '--policy-file cannot be combined with other network update flags'],
    ['-f with --proxy', ['--policy-file', 'policy.yaml', '--proxy', 'proxy.example.com:1080'], '--policy-file cannot be combined with other network update flags'],
    ['--traffic-rule with legacy flags', ['--mode', 'block-all', '--allow-domain', 'a.example', '--traffic-rule', '{"action":"allow"}'], '--traffic-rule cannot be combined with legacy allow/deny flags'],
    ['an http proxy', ['--mode', 'block-all', '--proxy', 'http://proxy.example.com:1080'], '--proxy only supports socks5:// endpoints'],
    ['a proxy with a path', ['--mode', 'block-all', '--proxy', 'socks5://proxy.example.com:1080/x'], '--proxy must not include path, query, or fragment'],
    ['a proxy with credentials', ['--mode', 'block-all', '--proxy', 'socks5://user:pass@proxy.example.com:1080'], '--proxy must not include credentials; use --proxy-credential-source instead'],
    ['a proxy without a port', ['--mode', 'block-all', '--proxy', 'socks5://proxy.example.com'], '--proxy must be a SOCKS5 endpoint in host:port form'],
    ['a proxy with a bad port', ['--mode', 'block-all', '--proxy', 'proxy.example.com:p'], 'invalid --proxy port "p": strconv.ParseInt: parsing "p": invalid syntax'],
    ['a proxy port out of range', ['--mode', 'block-all', '--proxy', 'proxy.example.com:65536'], 'invalid --proxy port "65536": must be between 1 and 65535'],
    ['credential flags without --proxy', ['--mode', 'block-all', '--proxy-credential-ref', 'corp-proxy'], '--proxy is required when proxy credential flags are provided'],
    ['a source without --proxy', ['--mode', 'block-all', '--proxy-credential-source', 'corp-proxy-source'], '--proxy is required when proxy credential flags are provided'],
    [
      'a duplicate default binding ref',
      ['--mode', 'block-all', '--proxy', 'proxy.example.com:1080', '--proxy-credential-source', 'src', '--credential-binding', '{"ref":"egress-proxy","sourceRef":"x","projection":{"type":"username_password"}}'],
      'credential binding "egress-proxy" is already provided',
    ],
    ['a bad port spec', ['--mode', 'block-all', '--allow-port', '443/icmp'], 'parse --allow-port: protocol must be tcp or udp'],
    ['a bad mode', ['--mode', 'deny-all'], 'invalid network policy: invalid: mode (invalid value: deny-all)'],
  ])('rejects %s with the official message and exit code 1', async ([, flags, message], { expect }) => {
    const r = await cli(['sandbox', 'network', 'update', '-s', 'sb-does-not-matter', ...flags]);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`Error building network policy: ${message}`);
  });

  it('prints API errors like the official CLI and exits 1', async () => {
    const unknown = await cli(['sandbox', 'network', 'get', '-s', 'sb-nope']);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toBe('Error getting network policy: sandbox0 API error (404): not_found - sandbox not found: sandbox "sb-nope" not found');
    const id = await newSandbox();
    const missingSource = await cli(['sandbox', 'network', 'update', '-s', id, '--mode', 'block-all', '--proxy', 'proxy.example.com:1080', '--proxy-credential-source', 'nope']);
    expect(missingSource.exitCode).toBe(1);
    expect(missingSource.stderr).toBe(
      'Error updating network policy: sandbox0 API error (500): internal_error - failed to update network policy: update pod annotations: stage credential bindings: credential source "nope" not found',
    );
    const missingFlag = await cli(['sandbox', 'network', 'update', '--mode', 'block-all']);
    expect(missingFlag.exitCode).toBe(1);
    expect(missingFlag.stderr).toContain('Error: required flag(s) "sandbox-id" not set');
  });
});
