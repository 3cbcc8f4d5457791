import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Third-party SOCKS5 servers (microsocks, dante-server) started on loopback with a throwaway user, and
 * stopped by PID. Dante authenticates against system users, so it needs root to create one.
 */

export interface ExternalProxy {
  name: string;
  port: number;
  username: string;
  password: string;
  pid: number;
  stop(): Promise<void>;
}

export const hasBinary = (bin: string): boolean => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
export const isRoot = (): boolean => process.getuid?.() === 0;

/** A port that was free a moment ago (the servers below need one on their command line). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Resolves once `port` accepts a TCP connection; bounded in attempts and time. */
export async function waitForPort(port: number, child: ChildProcess, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; attempt < 500; attempt++) {
    if (child.exitCode !== null) throw new Error(`process exited with ${child.exitCode} before listening`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`port ${port} did not open within ${timeoutMs} ms`);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    process.kill(child.pid!, 'SIGTERM');
  });
}

export async function startMicrosocks({ username = 'mtest', password = randomBytes(6).toString('hex') } = {}): Promise<ExternalProxy> {
  const port = await freePort();
  const child = spawn('microsocks', ['-i', '127.0.0.1', '-p', String(port), '-u', username, '-P', password], { stdio: 'ignore' });
  try {
    await waitForPort(port, child);
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  return { name: 'microsocks', port, username, password, pid: child.pid!, stop: () => stopChild(child) };
}

export async function startDante({ workers = 1 } = {}): Promise<ExternalProxy> {
  if (!isRoot()) throw new Error('dante-server needs a system user for username auth; run as root');
  const username = `see-${randomBytes(4).toString('hex')}`;
  const password = randomBytes(8).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'see-dante-'));
  const port = await freePort();
  const cleanupUser = (): void => {
    spawnSync('userdel', [username]);
  };
  const add = spawnSync('useradd', ['-M', '-s', '/usr/sbin/nologin', username]);
  if (add.status !== 0) throw new Error(`useradd failed: ${add.stderr.toString()}`);
  const pw = spawnSync('chpasswd', [], { input: `${username}:${password}\n` });
  if (pw.status !== 0) {
    cleanupUser();
    throw new Error(`chpasswd failed: ${pw.stderr.toString()}`);
  }
  writeFileSync(
    join(dir, 'danted.conf'),
    `logoutput: stderr
internal: 127.0.0.1 port = ${port}
external: 127.0.0.1
socksmethod: username
clientmethod: none
user.privileged: root
user.unprivileged: nobody
client pass {
  from: 127.0.0.0/8 to: 0.0.0.0/0
}
socks pass {
  from: 127.0.0.0/8 to: 0.0.0.0/0
  command: connect
  socksmethod: username
}
`,
  );
  const child = spawn('danted', ['-f', join(dir, 'danted.conf'), '-p', join(dir, 'danted.pid'), '-N', String(workers)], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.resume();
  const cleanup = async (): Promise<void> => {
    await stopChild(child);
    cleanupUser();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, child);
  } catch (err) {
    await cleanup();
    throw err;
  }
  return { name: 'dante-server', port, username, password, pid: child.pid!, stop: cleanup };
}
