import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/program.js';
import { discoveryValue } from '../../../src/discovery.js';
import { assertBuilt, binPath, waitForOutput } from '../../helpers/bin.js';
import { useEmulator } from '../../helpers/emulator.js';
import { fakeIo } from '../../unit/cli/fake-io.js';
import { emulatorInternals } from '../../../src/internals.js';

/**
 * With SANDBOX0_BASE_URL unset every API command talks to the local emulator (the one `run` names in
 * SEE_EMULATOR, else 127.0.0.1:4780), never the real platform; a remote URL needs --allow-remote; a
 * production-looking token in the environment appears in no output.
 */
const emu = useEmulator();
const prodToken = 's0_us-east-1_' + '7a'.repeat(24);
let dir = '';
beforeAll(() => {
  assertBuilt();
  dir = mkdtempSync(join(tmpdir(), 'see-local-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = async (args: string[], env: NodeJS.ProcessEnv) => {
  const f = fakeIo({ PATH: process.env.PATH, ...env });
  const code = await main(args, f.io);
  return { code, stdout: f.stdout(), stderr: f.stderr(), all: f.stdout() + f.stderr() };
};

describe('CLI target', () => {
  it('every API command uses the emulator SEE_EMULATOR names when SANDBOX0_BASE_URL is unset', async () => {
    const env = { SEE_EMULATOR: discoveryValue({ apiUrl: emu.current.apiUrl, token: emu.current.token }) };
    const created = await cli(['sandbox', 'create', '-t', 'default', '-o', 'json'], env);
    expect(created.code, created.all).toBe(0);
    const id = JSON.parse(created.stdout).id as string;
    const source = join(dir, 'source.yaml');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(source, 'name: corp-proxy-source\nresolverKind: static_username_password\nspec:\n  staticUsernamePassword:\n    username: proxy-user\n    password: proxy-pass\n');
    const commands: string[][] = [
      ['sandbox', 'list'],
      ['sandbox', 'get', id],
      ['sandbox', 'network', 'get', '-s', id],
      ['sandbox', 'network', 'update', '-s', id, '--mode', 'block-all', '--allow-domain', 'api.internal.example.com', '--allow-port', '443/tcp', '--proxy', 'socks5://proxy.example.com:1080', '--proxy-credential-ref', 'corp-proxy', '--proxy-credential-source', 'corp-proxy-source'],
      ['credential', 'list'],
      ['flows'],
      ['evaluate', '-s', id, '--host', 'api.internal.example.com', '--port', '443'],
      ['sandbox', 'exec', id, '--', 'true'],
    ];
    // The update binds a source, which must exist first.
    const credential = await cli(['credential', 'create', '-f', source], env);
    expect(credential.code, credential.all).toBe(0);
    for (const args of commands) {
      const r = await cli(args, env);
      expect(r.code, `${args.join(' ')}: ${r.all}`).toBe(0);
    }
    expect(emulatorInternals(emu.current).services.sandboxes.list({}).count).toBe(1);
  });

  it('without SANDBOX0_BASE_URL or SEE_EMULATOR, goes to 127.0.0.1:4780', async () => {
    const r = await cli(['sandbox', 'list', '--token', 's0_local_' + 'ab'.repeat(24)], {});
    // Whatever listens there (nothing, or a developer's emulator), the request went to it.
    if (r.code !== 0) expect(r.stderr).toContain('127.0.0.1:4780');
    expect(r.all).not.toContain('sandbox0.ai');
  });

  it('refuses a remote SANDBOX0_BASE_URL without --allow-remote, and says so on stderr with it', async () => {
    const refused = await cli(['sandbox', 'list'], { SANDBOX0_BASE_URL: 'https://api.sandbox0.ai', SANDBOX0_TOKEN: prodToken });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('SANDBOX0_BASE_URL is https://api.sandbox0.ai, which is not on this machine');
    expect(refused.stderr).toContain('--allow-remote');
    expect(refused.all).not.toContain(prodToken);
    for (const args of [['flows'], ['evaluate', '-s', 'sb-1', '--ip', '198.18.0.10', '--port', '443'], ['credential', 'list']]) {
      const r = await cli(args, { SANDBOX0_BASE_URL: 'http://api.example.com', SANDBOX0_TOKEN: prodToken });
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toContain('--allow-remote');
    }
    // With the flag it goes ahead (a name that is not loopback and does not resolve), noted on stderr.
    const allowed = await cli(['sandbox', 'list', '--allow-remote'], { SANDBOX0_BASE_URL: 'http://emulator.invalid:4780', SANDBOX0_TOKEN: prodToken });
    expect(allowed.code).toBe(1);
    expect(allowed.stderr).toContain('note: talking to http://emulator.invalid:4780 (SANDBOX0_BASE_URL), not to a local emulator (--allow-remote)');
    expect(allowed.stderr).toContain('emulator.invalid');
    expect(allowed.all).not.toContain(prodToken);
  });

  it('never prints a production-looking token from the environment', async () => {
    const env = { SEE_EMULATOR: discoveryValue({ apiUrl: emu.current.apiUrl, token: emu.current.token }), SANDBOX0_TOKEN: prodToken };
    for (const args of [['sandbox', 'list'], ['credential', 'list'], ['flows'], ['evaluate', '-s', 'sb-x', '--ip', '198.18.0.10', '--port', '443'], ['sandbox', 'exec', 'sb-x', '--', 'true']]) {
      const r = await cli(args, env);
      expect(r.all, args.join(' ')).not.toContain(prodToken);
      // Sent to the local emulator, which does not know it.
      expect(r.all, args.join(' ')).toMatch(/invalid api key|401|unauthorized/i);
    }
  });
});

describe('start and run with SANDBOX0_TOKEN set', () => {
  it('start does not adopt it: its own token, a note on stderr, nothing prints the real one', async () => {
    const readyFile = join(dir, 'ready.json');
    const child = execa('node', [binPath, 'start', '--ephemeral', '--port', '0', '--ready-file', readyFile, '--interception', 'explicit'], {
      reject: false,
      all: true,
      env: { SANDBOX0_TOKEN: prodToken },
    });
    try {
      const banner = await waitForOutput(child, 'export SANDBOX0_TOKEN=');
      const ready = JSON.parse(readFileSync(readyFile, 'utf8')) as { apiUrl: string; token: string };
      expect(ready.token).toMatch(/^s0_local_/);
      expect(banner).toContain(`export SANDBOX0_TOKEN=${ready.token}`);
      // What the vitest setup and the library attach to, for an emulator the user started.
      const see = /^ {2}export SEE_EMULATOR='(.*)'$/m.exec(banner)?.[1];
      expect(JSON.parse(see!)).toEqual({ apiUrl: ready.apiUrl, token: ready.token, readyFile });
      const info = await (await fetch(`${ready.apiUrl}/_emulator/info`, { headers: { authorization: `Bearer ${ready.token}` } })).text();
      expect(info).not.toContain(prodToken);
      expect((await fetch(`${ready.apiUrl}/api/v1/sandboxes`, { headers: { authorization: `Bearer ${prodToken}` } })).status).toBe(401);
    } finally {
      child.kill('SIGTERM');
    }
    const result = await child;
    expect(result.all).toContain('note: SANDBOX0_TOKEN is set but not used');
    expect(result.all).not.toContain(prodToken);
  });

  it('start --token shows the given token masked', async () => {
    const child = execa('node', [binPath, 'start', '--ephemeral', '--port', '0', '--token', prodToken, '--interception', 'explicit'], { reject: false, all: true });
    try {
      const banner = await waitForOutput(child, 'export SANDBOX0_TOKEN=');
      expect(banner).toMatch(/token +s0_us-ea… \(masked\)/);
      expect(banner).toContain('export SANDBOX0_TOKEN=<the token you gave>');
      expect(banner).not.toContain('SEE_EMULATOR');
    } finally {
      child.kill('SIGTERM');
    }
    expect((await child).all).not.toContain(prodToken);
  });

  it('run gives the command the emulator’s token, not SANDBOX0_TOKEN, and SEE_EMULATOR', async () => {
    const r = await execa('node', [binPath, 'run', '--interception', 'explicit', '--', 'node', '-e', 'const d = JSON.parse(process.env.SEE_EMULATOR); console.log(JSON.stringify({ t: process.env.SANDBOX0_TOKEN, d, ready: require("fs").readFileSync(d.readyFile, "utf8").length > 0 }))'], {
      reject: false,
      env: { SANDBOX0_TOKEN: prodToken },
      all: true,
    });
    expect(r.exitCode, r.all).toBe(0);
    const seen = JSON.parse(r.stdout) as { t: string; d: { apiUrl: string; token: string; readyFile: string }; ready: boolean };
    expect(seen.t).toMatch(/^s0_local_/);
    expect(seen.d.token).toBe(seen.t);
    expect(seen.d.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(seen.ready).toBe(true);
    expect(r.stderr).toContain('note: SANDBOX0_TOKEN is set but not used');
    // The ready file lived in a directory of run's own, removed at the end.
    expect(() => readFileSync(seen.d.readyFile)).toThrow();
  });
});
