import { execa } from 'execa';
import { createServer, type AddressInfo } from 'node:net';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { flowHeader, flowRow, renderFlowLines } from '../../../src/cli/commands/flows.js';
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
    expect(lines[0]).toMatch(/^TIME +SANDBOX +DEST +HOST +PROTOCOL +VERDICT +REASON +ROUTE +PROXY TARGET +BYTES OUT\/IN$/);
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
