import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { TransparentSupport } from '../namespace-backend.js';
import { newInstanceId, namePrefix } from './names.js';

/**
 * Can this process run the root namespace backend? Root or CAP_NET_ADMIN, `ip`, `nft` and
 * `conntrack` on PATH, and a network namespace actually creatable (a probe namespace is added and
 * deleted). The reason is what `--interception auto` reports when it falls back to explicit mode.
 */

const capNetAdmin = 12n;
const probeTimeoutMs = 5000;

/** From the effective capability set, not the uid: root in a container may lack CAP_NET_ADMIN. */
function hasNetAdmin(): boolean {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
    return hex !== undefined && ((BigInt(`0x${hex}`) >> capNetAdmin) & 1n) === 1n;
  } catch {
    return false;
  }
}

function runs(file: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: probeTimeoutMs, env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' } }, (err, _stdout, stderr) => {
      resolve(err ? (String(stderr).trim() || err.message) : undefined);
    });
  });
}

export async function detectTransparentSupport(): Promise<TransparentSupport> {
  if (process.platform !== 'linux') return { ok: false, reason: `transparent interception needs Linux (this is ${process.platform})` };
  if (!hasNetAdmin()) return { ok: false, reason: 'transparent interception needs root or CAP_NET_ADMIN' };
  for (const [tool, args, pkg] of [
    ['ip', ['-V'], 'iproute2'],
    ['nft', ['--version'], 'nftables'],
    ['conntrack', ['--version'], 'conntrack'],
  ] as const) {
    const err = await runs(tool, [...args]);
    if (err !== undefined) return { ok: false, reason: `\`${tool}\` is not usable (install the ${pkg} package): ${err}` };
  }
  const probe = `${namePrefix}probe-${newInstanceId()}`;
  const addErr = await runs('ip', ['netns', 'add', probe]);
  if (addErr !== undefined) return { ok: false, reason: `cannot create a network namespace: ${addErr}` };
  await runs('ip', ['netns', 'delete', probe]);
  return { ok: true };
}
