import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenFile } from '../../../src/config.js';
import { startEmulator, type Emulator } from '../../../src/emulator.js';
import { keyFile } from '../../../src/store/db.js';
import type { SandboxUser } from '../../../src/interception/transparent/sandbox-confinement.js';
import { transparentBackends, transparentUnavailable } from '../../helpers/netns.js';
import { emulatorInternals } from '../../../src/internals.js';

/**
 * A transparent sandbox's programs are confined (issue 15): their own PID and mount namespaces
 * besides the network one, the sandbox user (65534 by default) with no_new_privs and no capabilities,
 * the emulator's data dir, token and state dir out of sight — against both backends.
 */
const skip = transparentUnavailable();
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function run(emu: Emulator, id: string, script: string): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }> {
  const { subprocess } = await emulatorInternals(emu).runtime.exec(id, ['sh', '-c', script], { timeoutMs: 20_000 });
  const r = await subprocess;
  return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Host pids whose command line is exactly `argv`. */
function hostPids(argv: string[]): number[] {
  const want = argv.join('\0');
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0$/, '') === want) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<boolean> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; ) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return check();
}

async function startWith(backend: 'root' | 'rootless', sandboxUser?: SandboxUser) {
  const dataDir = mkdtempSync(join(tmpdir(), 'see-confine-'));
  dirs.push(dataDir);
  // No token given: it is generated and kept in the data dir, next to the secrets key.
  const emu = await startEmulator({ ephemeral: false, dataDir, interception: 'transparent', transparentBackend: backend, sandboxUser });
  const id = emulatorInternals(emu).services.sandboxes.claim({ template: 'default' } as never).sandbox_id;
  await emulatorInternals(emu).runtime.attach(id);
  return { emu, id, dataDir };
}

describe.skipIf(skip).each(transparentBackends)('sandbox confinement (%s backend)', (backend) => {
  let emu: Emulator;
  let id: string;
  let dataDir: string;
  beforeAll(async () => {
    ({ emu, id, dataDir } = await startWith(backend));
  });
  afterAll(async () => {
    await emu?.stop();
  });

  it('runs commands as uid 65534 with no capabilities and no_new_privs', async () => {
    const r = await run(emu, id, 'id -u; id -g; grep -E "^(CapEff|CapPrm|CapBnd|CapAmb|NoNewPrivs):" /proc/self/status');
    expect(r.stdout.split('\n').slice(0, 2)).toEqual(['65534', '65534']);
    expect(r.stdout).toMatch(/CapEff:\s+0{16}/);
    expect(r.stdout).toMatch(/CapPrm:\s+0{16}/);
    expect(r.stdout).toMatch(/CapBnd:\s+0{16}/);
    expect(r.stdout).toMatch(/NoNewPrivs:\s+1/);
  });

  it("sees its own init as PID 1 and none of the emulator's processes", async () => {
    const r = await run(emu, id, `tr '\\0' ' ' < /proc/1/cmdline; echo; ls -d /proc/${process.pid} 2>&1; echo; ls /proc | grep -c '^[0-9]'`);
    const [cmdline, emulatorProc, count] = r.stdout.split('\n');
    expect(cmdline!.trim()).toBe('see-sandbox-init');
    expect(emulatorProc).toMatch(/No such file/);
    expect(Number(count)).toBeLessThan(10); // init, the shell, ls, grep
  });

  it("cannot enter the emulator's network namespace", async () => {
    const gateway = `/run/netns/see-${emu.sandbox(id).view()!.namespace!.split('-')[1]}-gw`;
    const r = await run(emu, id, `nsenter --net=/proc/${process.pid}/ns/net true; echo "exit $?"; nsenter --net=${gateway} true; echo "exit $?"`);
    expect(r.stdout).toMatch(/^exit [1-9]\d*\nexit [1-9]\d*\n$/);
  });

  it("cannot read the emulator's data dir, token or secrets key", async () => {
    const token = emu.token;
    // On the host, both files are there (and the token is the one in use).
    expect(readFileSync(join(dataDir, tokenFile), 'utf8').trim()).toBe(token);
    expect(existsSync(join(dataDir, keyFile))).toBe(true);
    const r = await run(emu, id, `ls -A ${dataDir}; echo "--"; cat ${dataDir}/${tokenFile} ${dataDir}/${keyFile} 2>&1`);
    expect(r.stdout.startsWith('--\n')).toBe(true); // the data dir is an empty tmpfs
    expect(r.stdout).toMatch(/token: No such file/);
    expect(r.stdout).toMatch(/secrets\.key: No such file/);
    expect(r.stdout).not.toContain(token);
  });

  it('reads the fixture CA from its own copy, and the sandbox resolver from its resolv.conf', async () => {
    const r = await run(emu, id, 'echo "$SSL_CERT_FILE"; head -1 "$SSL_CERT_FILE"; cat /etc/resolv.conf');
    const [path, firstLine] = r.stdout.split('\n');
    expect(path).toMatch(/\/ca\.crt$/);
    expect(firstLine).toBe('-----BEGIN CERTIFICATE-----');
    expect(r.stdout).toMatch(/^nameserver 10\.\d+\.\d+\.\d+$/m);
  });

  it('a process left running is gone once the sandbox is deleted', async () => {
    const other = emulatorInternals(emu).services.sandboxes.claim({ template: 'default' } as never).sandbox_id;
    await emulatorInternals(emu).runtime.attach(other);
    const seconds = `${randomInt(100_000, 999_999)}`;
    const r = await run(emu, other, `sleep ${seconds} >/dev/null 2>&1 & echo started`);
    expect(r.stdout).toBe('started\n');
    expect(await until(() => hostPids(['sleep', seconds]).length === 1)).toBe(true); // outlived its command
    emulatorInternals(emu).services.sandboxes.delete(other);
    expect(await until(() => hostPids(['sleep', seconds]).length === 0)).toBe(true);
  });
});

describe.skipIf(skip).each(transparentBackends)('--sandbox-user root (%s backend)', (backend) => {
  it('is uid 0 without capabilities, and still cannot read the data dir', async () => {
    const { emu, id, dataDir } = await startWith(backend, { kind: 'root', privileged: false });
    try {
      const r = await run(emu, id, `id -u; grep -E "^(CapEff|CapBnd):" /proc/self/status; cat ${dataDir}/token 2>&1`);
      expect(r.stdout.split('\n')[0]).toBe('0');
      expect(r.stdout).toMatch(/CapEff:\s+0{16}/);
      expect(r.stdout).toMatch(/CapBnd:\s+0{16}/);
      expect(r.stdout).not.toContain(emu.token);
      expect(r.stdout).toMatch(/No such file/);
    } finally {
      await emu.stop();
    }
  });

  it('with --sandbox-privileged keeps its capabilities (inside its own PID namespace)', async () => {
    const { emu, id } = await startWith(backend, { kind: 'root', privileged: true });
    try {
      const r = await run(emu, id, `grep -E "^CapEff:" /proc/self/status; tr '\\0' ' ' < /proc/1/cmdline`);
      expect(r.stdout).not.toMatch(/CapEff:\s+0{16}/);
      expect(r.stdout).toContain('see-sandbox-init');
    } finally {
      await emu.stop();
    }
  });
});
