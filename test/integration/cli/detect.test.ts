import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { assertBuilt, binPath } from '../../helpers/bin.js';

/** `detect`: each mode, why it is or is not available, and the one command that fixes it. */
const asRoot = process.getuid?.() === 0;

describe('detect', () => {
  it('prints the three modes and what auto picks; --json says the same', async () => {
    assertBuilt();
    const text = await execa(process.execPath, [binPath, 'detect'], { reject: false });
    expect(text.stdout).toMatch(/^Interception modes on linux \(uid \d+\):$/m);
    expect(text.stdout).toMatch(/^ {2}transparent \(root\) +(available|not available): /m);
    expect(text.stdout).toMatch(/^ {2}transparent \(rootless\) +(available|not available): /m);
    expect(text.stdout).toMatch(/^--interception auto uses: /m);
    const json = JSON.parse((await execa(process.execPath, [binPath, 'detect', '--json'], { reject: false })).stdout);
    expect(json.explicit.ok).toBe(true);
    expect(text.exitCode).toBe(json.root.ok || json.rootless.ok ? 0 : 1);
    for (const mode of [json.root, json.rootless]) if (!mode.ok) expect(text.stdout).toContain(`fix: ${mode.fix}`);
  });

  it.skipIf(!asRoot)('as an unprivileged user without the tools on PATH: both transparent modes are out, each with the package that fixes it', async () => {
    assertBuilt();
    const r = await execa('/usr/bin/setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, binPath, 'detect'], { reject: false, extendEnv: false, env: { PATH: '/nonexistent-see-bin' } });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain('transparent (root)       not available: transparent interception with the root backend needs root or CAP_NET_ADMIN');
    expect(r.stdout).toMatch(/transparent \(rootless\) +not available: `ip` is not usable/);
    expect(r.stdout).toContain('fix: sudo apt-get install -y iproute2');
    expect(r.stdout).toContain('--interception auto uses: explicit');
  });
});
