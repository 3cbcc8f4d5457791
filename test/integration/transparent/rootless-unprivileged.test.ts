import { Client } from 'sandbox0';
import { execa, type ResultPromise } from 'execa';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturesDir } from '../../../src/paths.js';
import { assertBuilt, binPath, waitForOutput } from '../../helpers/bin.js';
import { docsPolicy } from '../../helpers/docs-policy.js';
import { hostNftTables, ourHostLinks, ourNamespaces } from '../../helpers/netns.js';

/**
 * Rootless transparent mode as an unprivileged user (uid 65534 via setpriv, the way CI runs it as
 * root): `start` reports transparent interception, the docs' scenario works by hostname through the
 * proxy, curl / python / a raw nc are captured, QUIC is rejected `quic_not_proxied`, a denied host is
 * closed and audited; SIGKILL leaves no process behind and the next start clears the state files.
 */
const unprivileged = { uid: 65534, gid: 65534 };

function canRunRootless(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to drop to an unprivileged user with setpriv';
  try {
    execFileSync('setpriv', [`--reuid=${unprivileged.uid}`, `--regid=${unprivileged.gid}`, '--clear-groups', 'unshare', '--user', '--map-root-user', '--net', '--mount', 'true'], { stdio: 'pipe', timeout: 10_000 });
    return undefined;
  } catch (err) {
    return `an unprivileged user cannot create a user namespace here: ${String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim()}`;
  }
}

const skipReason = canRunRootless();
if (skipReason) process.stderr.write(`[rootless unprivileged tests skipped] ${skipReason}\n`);
const dir = mkdtempSync(join(tmpdir(), 'see-rootless-'));
chmodSync(dir, 0o777);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Ready {
  apiUrl: string;
  token: string;
  pid: number;
  interception: { mode: string; backend?: string; sandboxUser?: string; limitations?: string[] };
}

async function startUnprivileged(name: string): Promise<{ child: ResultPromise; ready: Ready; banner: string }> {
  assertBuilt();
  const readyFile = join(dir, `${name}.json`);
  const child = execa(
    'setpriv',
    [`--reuid=${unprivileged.uid}`, `--regid=${unprivileged.gid}`, '--clear-groups', process.execPath, binPath, 'start', '--ephemeral', '--port', '0', '--ready-file', readyFile, '--log-level', 'silent'],
    { reject: false, extendEnv: false, env: { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', HOME: dir } },
  );
  let banner: string;
  try {
    banner = await waitForOutput(child, 'SANDBOX0_TOKEN=', 30_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return { child, ready: JSON.parse(readFileSync(readyFile, 'utf8')) as Ready, banner };
}

/** Every process descended from `pid` (walking /proc's parent links). */
function descendants(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      parents.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone
    }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift()!;
    for (const [child, parent] of parents) if (parent === p) (out.push(child), queue.push(child));
  }
  return out;
}

const alive = (pid: number): boolean => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

async function until<T>(get: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T | undefined> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; ) {
    const v = await get();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  return get();
}

describe.skipIf(skipReason !== undefined)('rootless transparent mode as an unprivileged user', () => {
  let first: Awaited<ReturnType<typeof startUnprivileged>>;
  let sdk: Client;
  const namespacesBefore = new Set(skipReason ? [] : ourNamespaces());
  beforeAll(async () => {
    first = await startUnprivileged('first');
    sdk = new Client({ token: first.ready.token, baseUrl: first.ready.apiUrl });
  }, 60_000);
  afterAll(() => {
    first?.child.kill('SIGKILL');
  });

  const flows = async (sandboxId: string): Promise<{ attributes: Record<string, unknown> }[]> => {
    const res = await fetch(`${first.ready.apiUrl}/_emulator/flows?sandbox=${sandboxId}`, { headers: { authorization: `Bearer ${first.ready.token}` } });
    return ((await res.json()) as { data: { events: { attributes: Record<string, unknown> }[] } }).data.events;
  };
  const event = (sandboxId: string, match: (a: Record<string, unknown>) => boolean) => until(async () => (await flows(sandboxId)).find((e) => match(e.attributes)));

  it('start reports transparent interception with the rootless backend, its sandbox user and its limitations', async () => {
    expect(first.ready.interception).toMatchObject({ mode: 'transparent', backend: 'rootless-userns' });
    expect(first.ready.interception.sandboxUser).toMatch(/^uid 65534/);
    expect(first.ready.interception.limitations?.[0]).toMatch(/single uid/);
    expect(first.banner).toMatch(/interception transparent/);
    expect(first.banner).toMatch(/limitation {3}sandbox commands appear as uid 65534/);
    // Nothing in the host namespace: no named namespace, no link, no nftables table of ours.
    expect(ourNamespaces().filter((n) => !namespacesBefore.has(n))).toEqual([]);
    expect(ourHostLinks()).toEqual([]);
    expect(hostNftTables()).not.toMatch(/\bsee\b/);
  });

  it("the docs' scenario: curl, python and a raw nc are captured; QUIC is rejected; a denied host is closed and audited", async () => {
    await sdk.credentialSources.create({ name: 'corp-proxy-source', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'proxy-user', password: 'proxy-pass' } } });
    const sandbox = await sdk.sandboxes.claim('default');
    await sandbox.updateNetworkPolicy(docsPolicy('corp-proxy-source'));

    const curl = await sandbox.cmd('curl -sS --max-time 10 https://api.internal.example.com/rootless');
    expect(curl.exitCode).toBe(0);
    expect(JSON.parse(curl.stdout)).toMatchObject({ service: 'api.internal.example.com', path: '/rootless' });
    expect((await event(sandbox.id, (a) => a.outcome === 'completed' && a.host === 'api.internal.example.com'))?.attributes).toMatchObject({ route: 'proxy', proxy_target_atyp: 'domain', matched_rule: 'allow-private-api' });

    const py = await sandbox.cmd(`python3 -c "import urllib.request; print(urllib.request.urlopen('https://api.internal.example.com/py').status)"`);
    expect(py.stdout.trim()).toBe('200');

    const nc = await sandbox.cmd('nc -w 5 198.18.0.67 6379');
    expect(nc.stdout).toBe('');
    expect((await event(sandbox.id, (a) => a.dest_ip === '198.18.0.67'))?.attributes).toMatchObject({ action: 'deny', transport: 'tcp', dest_port: 6379 });

    const denied = await sandbox.cmd('curl -sS --max-time 5 https://198.18.0.66:8443/');
    expect(denied.exitCode).not.toBe(0);
    expect((await event(sandbox.id, (a) => a.dest_ip === '198.18.0.66'))?.attributes).toMatchObject({ action: 'deny', reason: 'l4_denied' });

    const open = await sdk.sandboxes.claim('default');
    await open.updateNetworkPolicy(docsPolicy('corp-proxy-source', { mode: 'allow-all' }));
    const vectors = JSON.parse(readFileSync(join(fixturesDir, 'handshakes', 'rfc-quic-initial-vectors.json'), 'utf8')) as { v1: { packet: string } };
    await open.cmd(`node -e "const d=require('dgram').createSocket('udp4');d.send(Buffer.from('${vectors.v1.packet}','hex'),443,'198.18.0.78',()=>d.close())"`);
    expect((await event(open.id, (a) => a.dest_ip === '198.18.0.78'))?.attributes).toMatchObject({ transport: 'udp', action: 'deny', reason: 'quic_not_proxied', host: 'example.com' });
  }, 60_000);

  it('sandbox commands are confined: uid 65534, no capabilities, their own PID 1, no way into the emulator', async () => {
    const sandbox = await sdk.sandboxes.claim('default');
    const r = await sandbox.cmd(`sh -c 'id -u; grep CapEff /proc/self/status; tr "\\0" " " < /proc/1/cmdline; echo; nsenter --net=/proc/${first.ready.pid}/ns/net true 2>/dev/null; echo "nsenter $?"'`);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('65534');
    expect(lines[1]).toMatch(/CapEff:\s+0{16}/);
    expect(lines[2]!.trim()).toBe('see-sandbox-init');
    expect(lines[3]).toMatch(/^nsenter [1-9]/);
  });

  it('SIGKILL leaves no process behind; the next start clears the dead instance; SIGTERM leaves nothing', async () => {
    const sandbox = await sdk.sandboxes.claim('default');
    await sandbox.cmd(`sh -c 'sleep 600 >/dev/null 2>&1 &'`);
    const tree = descendants(first.child.pid!);
    expect(tree.length).toBeGreaterThanOrEqual(4); // the user namespace, helper, conntrack, sandbox inits, the sleep
    first.child.kill('SIGKILL');
    await first.child;
    expect(await until(() => (tree.some(alive) ? undefined : true))).toBe(true);

    const stateDir = join(tmpdir(), `sandbox-egress-emulator-${unprivileged.uid}`);
    const second = await startUnprivileged('second');
    try {
      const files = readdirSync(stateDir);
      expect(files.filter((f) => f.endsWith('.json'))).toHaveLength(1); // only the live instance's
      const secondTree = () => descendants(second.child.pid!);
      await new Client({ token: second.ready.token, baseUrl: second.ready.apiUrl }).sandboxes.claim('default');
      const running = secondTree();
      second.child.kill('SIGTERM');
      expect((await second.child).exitCode).toBe(0);
      expect(await until(() => (running.some(alive) ? undefined : true))).toBe(true);
      expect(readdirSync(stateDir)).toEqual([]);
    } finally {
      second.child.kill('SIGKILL');
    }
  }, 90_000);
});
