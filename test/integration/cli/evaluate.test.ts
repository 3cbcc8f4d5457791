import { execa } from 'execa';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assertBuilt, binPath } from '../../helpers/bin.js';
import { api, useEmulator } from '../../helpers/emulator.js';

/** `evaluate`: the gateway's dry-run decision and why, as text and JSON, run as a user runs the bin. */
const emu = useEmulator();
const client = api(() => emu.current);
beforeAll(() => assertBuilt());
beforeEach(async () => {
  await emu.current.reset();
});

const envFor = () => ({ SANDBOX0_BASE_URL: emu.current.apiUrl, SANDBOX0_TOKEN: emu.current.token });
const cli = (args: string[], env: Record<string, string> = envFor()) => execa('node', [binPath, ...args], { reject: false, env, extendEnv: true });

/** The docs' policy: block-all, one TLS rule for the internal API, through the corporate proxy. */
async function docsSandbox() {
  const id = (await client.post('/api/v1/sandboxes', { template: 'default' })).json.data.sandbox_id as string;
  const put = await client.put(`/api/v1/sandboxes/${id}/network`, {
    mode: 'block-all',
    egress: {
      trafficRules: [{ name: 'allow-private-api', action: 'allow', domains: ['api.internal.example.com'], ports: [{ port: 443, protocol: 'tcp' }], appProtocols: ['tls'] }],
      proxy: { type: 'socks5', address: 'proxy.example.com:1080' },
    },
  });
  expect(put.status).toBe(200);
  return id;
}

describe('evaluate (bin)', () => {
  it('explains an allowed, proxied flow: rule, route and the SOCKS5 CONNECT target', async () => {
    const id = await docsSandbox();
    const r = await cli(['evaluate', '-s', id, '--host', 'api.internal.example.com', '--port', '443']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^Decision: +allow \(use-adapter\)$/m);
    expect(r.stdout).toMatch(/^Reason: +allowed$/m);
    expect(r.stdout).toMatch(/^Matched rule: +allow-private-api$/m);
    expect(r.stdout).toMatch(/^Destination: +198\.18\.0\.10:443 \(api\.internal\.example\.com as the sandbox resolves it\)$/m);
    expect(r.stdout).toMatch(/^Route: +proxy via socks5:\/\/proxy\.example\.com:1080, CONNECT api\.internal\.example\.com:443 \(domain\)$/m);
    const why = /^Why: +(.+)$/m.exec(r.stdout)?.[1];
    const json = await cli(['evaluate', '-s', id, '--host', 'api.internal.example.com', '--port', '443', '--json']);
    expect(json.exitCode).toBe(0);
    const parsed = JSON.parse(json.stdout);
    expect(parsed).toMatchObject({ flowStarts: true, action: 'use-adapter', reason: 'allowed', route: 'proxy', proxyTarget: { atyp: 'domain', host: 'api.internal.example.com', port: 443 } });
    expect(why).toBe(parsed.explanation);
    expect((await cli(['evaluate', '-s', id, '--host', 'api.internal.example.com', '--port', '443', '-o', 'json'])).stdout).toBe(json.stdout);
  });

  it('explains denials, UDP with a proxy and names the sandbox cannot resolve', async () => {
    const id = await docsSandbox();
    const ipOnly = await cli(['evaluate', '-s', id, '--ip', '198.18.0.10', '--port', '443']);
    expect(ipOnly.stdout).toMatch(/^Decision: +deny$/m);
    expect(ipOnly.stdout).toMatch(/^Reason: +l4_denied$/m);
    expect(ipOnly.stdout).toMatch(/^Classified: +unknown \(unclassified\)$/m);
    const udp = await cli(['evaluate', '-s', id, '--host', 'api.internal.example.com', '--port', '443', '--transport', 'udp', '--json']);
    expect(JSON.parse(udp.stdout)).toMatchObject({ action: 'deny' });
    const nx = await cli(['evaluate', '-s', id, '--host', 'db.corp.example.com', '--port', '443']);
    expect(nx.exitCode).toBe(0);
    expect(nx.stdout).toMatch(/^Decision: +deny \(no flow starts\)$/m);
    expect(nx.stdout).toMatch(/^Reason: +sandbox_resolution_failed$/m);
    const nxJson = await cli(['evaluate', '-s', id, '--host', 'db.corp.example.com', '--port', '443', '--json']);
    expect(JSON.parse(nxJson.stdout)).toMatchObject({ flowStarts: false, action: 'deny', reason: 'sandbox_resolution_failed' });
    expect(nx.stdout).toMatch(/^Why: +db\.corp\.example\.com does not resolve inside the sandbox/m);
    const ssh = await cli(['evaluate', '-s', id, '--host', 'api.internal.example.com', '--port', '443', '--app-protocol', 'ssh', '--json']);
    expect(JSON.parse(ssh.stdout)).toMatchObject({ action: 'deny', classification: { kind: 'known', appProtocol: 'ssh' } });
  });

  it('reports missing and bad flags, unknown sandboxes and a missing token', async () => {
    const id = await docsSandbox();
    const noPort = await cli(['evaluate', '-s', id, '--host', 'x']);
    expect(noPort.exitCode).toBe(1);
    expect(noPort.stderr).toContain('Error: required flag(s) "port" not set');
    const noHost = await cli(['evaluate', '-s', id, '--port', '443']);
    expect(noHost).toMatchObject({ exitCode: 1, stderr: 'Error: --host or --ip is required' });
    const badTransport = await cli(['evaluate', '-s', id, '--host', 'x', '--port', '443', '--transport', 'sctp']);
    expect(badTransport).toMatchObject({ exitCode: 1, stderr: 'Error: invalid --transport "sctp": must be tcp or udp' });
    const badProtocol = await cli(['evaluate', '-s', id, '--host', 'x', '--port', '443', '--app-protocol', 'gopher']);
    expect(badProtocol.exitCode).toBe(1);
    expect(badProtocol.stderr).toMatch(/^Error: invalid --app-protocol "gopher": must be one of http, tls/);
    const badPort = await cli(['evaluate', '-s', id, '--host', 'x', '--port', '70000']);
    expect(badPort).toMatchObject({ exitCode: 1, stderr: 'Error: invalid --port 70000: must be 1-65535' });
    const unknown = await cli(['evaluate', '-s', 'sb-nope', '--host', 'x', '--port', '443']);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toMatch(/^Error evaluating flow: sandbox0 API error \(404\): not_found - /);
    const flags = await cli(['evaluate', '-s', id, '--ip', '198.18.0.10', '--port', '443', '--api-url', emu.current.apiUrl, '--token', emu.current.token], { SANDBOX0_BASE_URL: '', SANDBOX0_TOKEN: '' });
    expect(flags.exitCode).toBe(0);
    const noToken = await cli(['evaluate', '-s', id, '--ip', '198.18.0.10', '--port', '443'], { SANDBOX0_BASE_URL: emu.current.apiUrl, SANDBOX0_TOKEN: '' });
    expect(noToken.exitCode).toBe(1);
    expect(noToken.stderr).toMatch(/^Error: no API token configured/);
  });
});
