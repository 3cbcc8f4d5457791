import { execa } from 'execa';
import { createServer, type AddressInfo } from 'node:net';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { flowHeader, flowRow, renderFlowLines } from '../../../src/cli/commands/flows.js';
import { clientHelloRecord } from '../../unit/classify/handshake-builders.js';
import { assertBuilt, binPath, waitForOutput } from '../../helpers/bin.js';
import { api, useEmulator, waitForEvent } from '../../helpers/emulator.js';
import { createDocsSandbox } from '../../helpers/docs-policy.js';

/** `flows`: the gateway's audit events as a table, NDJSON and a live stream, run as a user runs the bin. */
const emu = useEmulator();
const client = api(() => emu.current);
beforeAll(() => assertBuilt());
beforeEach(async () => {
  await emu.current.reset();
});

const envFor = () => ({ SANDBOX0_BASE_URL: emu.current.apiUrl, SANDBOX0_TOKEN: emu.current.token });
const cli = (args: string[], env: Record<string, string> = envFor()) => execa('node', [binPath, ...args], { reject: false, env, extendEnv: true });

/** The docs' sandbox (block-all, one TLS rule, the embedded proxy with credentials) with two real flows. */
async function sandboxWithFlows() {
  const id = await createDocsSandbox(client);
  const allowed = await client.post(`/_emulator/sandboxes/${id}/probe`, { host: 'api.internal.example.com', port: 443, send: 'tls-client-hello' });
  expect(allowed.json.data).toMatchObject({ outcome: 'completed' });
  const denied = await client.post(`/_emulator/sandboxes/${id}/probe`, { ip: '198.18.0.99', port: 80, send: 'http-get' });
  expect(denied.json.data).toMatchObject({ outcome: 'denied' });
  await waitForEvent(emu.current, (e) => e.sandbox_id === id && e.phase === 'result' && e.attributes.outcome === 'completed');
  return id;
}

/** A loopback port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('flows (bin)', () => {
  it('prints one table line per finished flow with verdict, reason, route, proxy target and bytes', async () => {
    const id = await sandboxWithFlows();
    const r = await cli(['flows']);
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^TIME +SANDBOX +DEST +HOST +PROTOCOL +VERDICT +REASON +ROUTE +PROXY TARGET +BYTES OUT\/IN +WHY$/);
    expect(lines).toHaveLength(3);
    const allowed = lines.find((l) => l.includes('api.internal.example.com'))!;
    expect(allowed).toMatch(new RegExp(`^\\d{2}:\\d{2}:\\d{2}\\.\\d{3} +${id} +198\\.18\\.0\\.10:443 +api\\.internal\\.example\\.com +tls/tcp +allowed +allowed +proxy +api\\.internal\\.example\\.com:443 +\\d+/\\d+$`));
    const denied = lines.find((l) => l.includes('198.18.0.99'))!;
    // The probe sent `Host: 198.18.0.99`, so the HTTP classifier saw that host.
    expect(denied).toMatch(/ 198\.18\.0\.99:80 +198\.18\.0\.99 +http\/tcp +denied +l4_denied +- +- +-$/);
    // Not a TTY: no color codes.
    expect(r.stdout).not.toContain('\u001b[');
  });

  it('--json prints every event (attempt and result) as NDJSON, and --sandbox filters', async () => {
    const id = await sandboxWithFlows();
    const other = (await client.post('/api/v1/sandboxes', { template: 'default' })).json.data.sandbox_id as string;
    await client.post(`/_emulator/sandboxes/${other}/probe`, { ip: '198.18.0.98', port: 80, send: 'http-get' });
    await waitForEvent(emu.current, (e) => e.sandbox_id === other && e.phase === 'result');
    const all = await cli(['flows', '--json']);
    expect(all.exitCode).toBe(0);
    const events = all.stdout.split('\n').map((l) => JSON.parse(l));
    expect(events).toEqual(emu.current.flows());
    const mine = await cli(['flows', '--json', '--sandbox', id]);
    const mineEvents = mine.stdout.split('\n').map((l) => JSON.parse(l));
    expect(mineEvents.length).toBeGreaterThan(0);
    expect(mineEvents.every((e: { sandbox_id: string }) => e.sandbox_id === id)).toBe(true);
    expect(mineEvents.map((e: { phase: string }) => e.phase)).toContain('attempt');
    const theirs = await cli(['flows', '--sandbox', other]);
    expect(theirs.stdout.split('\n')).toHaveLength(2);
    expect(theirs.stdout).toContain('198.18.0.98:80');
  });

  it('--follow replays what happened, then prints new flows live until interrupted', async () => {
    const id = await sandboxWithFlows();
    const child = execa('node', [binPath, 'flows', '--follow', '--sandbox', id], { reject: false, env: envFor(), extendEnv: true });
    try {
      await waitForOutput(child, 'l4_denied');
      const live = waitForOutput(child, '198.18.0.97:80');
      await client.post(`/_emulator/sandboxes/${id}/probe`, { ip: '198.18.0.97', port: 80, send: 'http-get' });
      await live;
    } finally {
      child.kill('SIGINT');
    }
    const r = await child;
    expect(r.exitCode).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^TIME +SANDBOX +DEST/);
    expect(r.stdout).toMatch(/198\.18\.0\.97:80 .* denied +l4_denied/);
  });

  it('--follow --json streams NDJSON events', async () => {
    const id = await sandboxWithFlows();
    const child = execa('node', [binPath, 'flows', '-f', '--json'], { reject: false, env: envFor(), extendEnv: true });
    try {
      await waitForOutput(child, '"198.18.0.99"');
      const live = waitForOutput(child, '"198.18.0.96"');
      await client.post(`/_emulator/sandboxes/${id}/probe`, { ip: '198.18.0.96', port: 80, send: 'http-get' });
      await live;
    } finally {
      child.kill('SIGTERM');
    }
    const r = await child;
    expect(r.exitCode).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.some((e) => e.attributes.dest_ip === '198.18.0.96' && e.attributes.reason === 'l4_denied')).toBe(true);
  });

  it('prints "No flows found." and reports a missing token or an unreachable API', async () => {
    expect(await cli(['flows'])).toMatchObject({ exitCode: 0, stdout: 'No flows found.' });
    const noToken = await cli(['flows'], { SANDBOX0_BASE_URL: emu.current.apiUrl, SANDBOX0_TOKEN: '' });
    expect(noToken.exitCode).toBe(1);
    expect(noToken.stderr).toMatch(/^Error: no API token configured/);
    const port = await closedPort();
    const down = await cli(['flows', '--api-url', `http://127.0.0.1:${port}`]);
    expect(down.exitCode).toBe(1);
    expect(down.stderr).toBe(`Error listing flows: Get "http://127.0.0.1:${port}/_emulator/flows?limit=1000": dial tcp 127.0.0.1:${port}: connect: connection refused`);
    const wrongToken = await cli(['flows', '--follow', '--token', 's0_local_' + '00'.repeat(24)]);
    expect(wrongToken.exitCode).toBe(1);
    expect(wrongToken.stderr).toMatch(/^Error following flows: sandbox0 API error \(401\)/);
  });
});

describe('flow table rendering', () => {
  it('colors only the verdict, and only when asked, without changing the alignment', async () => {
    const id = await sandboxWithFlows();
    const rows = emu.current.flows({ sandboxId: id }).filter((e) => e.phase === 'result').map(flowRow);
    const plain = renderFlowLines(rows);
    const colored = renderFlowLines(rows, { color: true });
    expect(plain).not.toContain('\u001b[');
    expect(colored).toContain('\u001b[32mallowed\u001b[0m');
    expect(colored).toContain('\u001b[31mdenied\u001b[0m');
    // Stripping the codes gives the plain table back.
    expect(colored.replace(/\u001b\[\d+m/g, '')).toBe(plain);
    expect(flowHeader().startsWith('TIME')).toBe(true);
  });
});

describe('flows: why a flow failed, unresolved names, hostile names', () => {
  it('shows the proxy reply code and its name, an auth failure, and an unresolved name', async () => {
    const id = await createDocsSandbox(client);
    expect((await client.post('/_emulator/proxy/faults', { name: 'no-names', type: 'reject_domain_atyp' })).status).toBe(201);
    const refused = await client.post(`/_emulator/sandboxes/${id}/probe`, { host: 'api.internal.example.com', port: 443, send: 'tls-client-hello' });
    expect(refused.json.data).toMatchObject({ outcome: 'error' });
    expect((await client.delete('/_emulator/proxy/faults/no-names')).status).toBe(200);
    expect((await client.put('/_emulator/proxy/users', { users: [{ username: 'proxy-user', password: 'rotated-by-the-customer' }] })).status).toBe(200);
    const auth = await client.post(`/_emulator/sandboxes/${id}/probe`, { host: 'api.internal.example.com', port: 443, send: 'tls-client-hello' });
    expect(auth.json.data).toMatchObject({ outcome: 'error', errorStep: 'proxy_auth' });
    // A program connecting by a name the sandbox cannot resolve (the documented pitfall).
    await expect(emu.current.sandbox(id).connect({ host: 'db.corp.example.com', port: 5432 })).rejects.toThrow(/ENOTFOUND/);
    await waitForEvent(emu.current, (e) => e.sandbox_id === id && e.attributes.reason === 'sandbox_resolution_failed');

    const r = await cli(['flows', '--sandbox', id]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/ error +allowed \(proxy_reply\) +proxy +api\.internal\.example\.com:443 +0\/0 +proxy replied 0x08 address type not supported$/m);
    expect(r.stdout).toMatch(/ error +allowed \(proxy_auth\) +proxy .* +proxy auth failed \(username\/password rejected\)$/m);
    expect(r.stdout).toMatch(/ -:5432 +db\.corp\.example\.com +unknown\/tcp +unresolved +sandbox_resolution_failed .* db\.corp\.example\.com does not resolve in the sandbox$/m);
  });

  it('prints a sandbox-supplied SNI and Host holding terminal escapes escaped, in the table and live', { timeout: 30_000 }, async () => {
    const id = (await client.post('/api/v1/sandboxes', { template: 'default' })).json.data.sandbox_id as string;
    const evilSni = 'a\u001b]0;owned\u0007.\u001b[2jexample.com'; // the gateway lower-cases SNI
    const hello = clientHelloRecord({ serverName: evilSni });
    await client.post(`/_emulator/sandboxes/${id}/probe`, { ip: '198.18.0.60', port: 443, send: 'raw', data: hello.toString('base64'), timeoutMs: 500 });
    const evilHost = 'b\u001b[31mred\u009b1m.example.com';
    await client.post(`/_emulator/sandboxes/${id}/probe`, { ip: '198.18.0.61', port: 80, send: 'raw', data: Buffer.from(`GET / HTTP/1.1\r\nHost: ${evilHost}\r\n\r\n`, 'latin1').toString('base64'), timeoutMs: 500 });
    const events = await Promise.all([
      waitForEvent(emu.current, (e) => e.sandbox_id === id && e.phase === 'result' && e.attributes.dest_ip === '198.18.0.60'),
      waitForEvent(emu.current, (e) => e.sandbox_id === id && e.phase === 'result' && e.attributes.dest_ip === '198.18.0.61'),
    ]);
    // The gateway recorded the names as the sandbox sent them.
    expect(events.map((e) => e.attributes.host)).toEqual([evilSni, evilHost]);

    const r = await cli(['flows', '--sandbox', id]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(r.stdout).toContain('a\\x1b]0;owned\\x07.\\x1b[2jexample.com');
    expect(r.stdout).toContain('b\\x1b[31mred\\x9b1m.example.com');

    const child = execa('node', [binPath, 'flows', '--follow', '--sandbox', id], { reject: false, env: envFor(), extendEnv: true });
    // Both rows (the SNI one comes first); the live table's fixed columns cut long names.
    const seen = await waitForOutput(child, 'red', 15_000);
    child.kill('SIGINT');
    await child;
    expect(seen).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(seen).toContain('a\\x1b]0;owned\\x07.');
    expect(seen).toContain('b\\x1b[31mred');
  });

  it('keeps the live table aligned: values longer than a fixed column are cut', () => {
    const event = {
      occurred_at: '2026-01-01T00:00:00.000Z',
      sandbox_id: 'sb-0123456789abcdef',
      attributes: { flow_id: 't', dest_ip: '198.18.0.10', dest_port: 443, transport: 'tcp', host: 'a-very-long-hostname.customer.internal.example.com', protocol: 'tls', classifier_result: 'known', action: 'use-adapter', reason: 'allowed', outcome: 'error', route: 'proxy', proxy_target: 'a-very-long-hostname.customer.internal.example.com:443', error_step: 'proxy_reply', proxy_reply_code: 8 },
    } as never;
    const header = flowHeader();
    const line = renderFlowLines([flowRow(event)]);
    // Every column starts where the header's does.
    for (const title of ['SANDBOX', 'DEST', 'HOST', 'PROTOCOL', 'VERDICT', 'REASON', 'ROUTE', 'PROXY TARGET', 'BYTES OUT/IN', 'WHY']) {
      const at = header.indexOf(title);
      expect(line[at - 1], title).toBe(' ');
      expect(line[at - 2], title).toBe(' ');
      expect(line[at], title).not.toBe(' ');
    }
    expect(line).toContain('  a-very-long-hostname.cu…  tls/tcp ');
    expect(line.trimEnd().endsWith('proxy replied 0x08 address type not supported')).toBe(true);
  });
});
