import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { it } from 'vitest';
import { detectRootlessBackend, detectTransparentSupport } from '../../src/interception/transparent/detect.js';

/**
 * Helpers for the transparent-interception tests: whether they can run here, and what the host and
 * the namespaces look like (to prove nothing of ours is left behind and nothing leaves the machine).
 */

const support = await detectTransparentSupport();
const rootlessSupport = support.ok ? await detectRootlessBackend() : undefined;

/**
 * The transparent backends the suites run against: root, and rootless when user namespaces work here
 * (as root, the rootless backend runs exactly as it does for an unprivileged user, minus the user).
 */
export const transparentBackends: ('root' | 'rootless')[] = rootlessSupport?.ok ? ['root', 'rootless'] : ['root'];
if (support.ok && rootlessSupport && !rootlessSupport.ok) process.stderr.write(`[rootless transparent tests skipped] ${rootlessSupport.reason}\n`);

/** True when the suite must run: a skip is then a failure (CI runs as root with SEE_REQUIRE_TRANSPARENT=1). */
export const transparentRequired = process.env.SEE_REQUIRE_TRANSPARENT === '1';
export const transparentSupported = support.ok;
export const transparentSkipReason = support.ok ? undefined : support.reason;

if (!support.ok && !transparentRequired) {
  // A visible message, not a silent skip.
  process.stderr.write(`[transparent tests skipped] ${support.reason}\n`);
}

/**
 * `describe.skipIf` replacement: skipped with a message when unsupported, a failing test when
 * SEE_REQUIRE_TRANSPARENT=1 demands it.
 */
export function transparentUnavailable(): boolean {
  if (support.ok) return false;
  if (transparentRequired) {
    it('transparent interception is required (SEE_REQUIRE_TRANSPARENT=1)', () => {
      throw new Error(`transparent interception unavailable: ${support.reason}`);
    });
  }
  return true;
}

const sh = (file: string, args: string[]): string => execFileSync(file, args, { encoding: 'utf8', timeout: 10_000 });

export const namespaces = (): string[] =>
  sh('ip', ['netns', 'list'])
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);

/** Our namespaces (all instances, or one). */
export const ourNamespaces = (instanceId?: string): string[] => namespaces().filter((n) => (instanceId ? n.startsWith(`see-${instanceId}-`) : /^see-[a-z0-9]{5}-/.test(n)));

/** Host-namespace links whose name is one of ours. */
export const ourHostLinks = (instanceId?: string): string[] =>
  sh('ip', ['-o', 'link', 'show'])
    .split('\n')
    .map((l) => /^\d+:\s+([^:@]+)/.exec(l)?.[1] ?? '')
    .filter((n) => (instanceId ? n.startsWith(`see${instanceId}`) : /^see[a-z0-9]{5}/.test(n)));

export const ourEtcNetns = (instanceId?: string): string[] =>
  existsSync('/etc/netns') ? readdirSync('/etc/netns').filter((n) => (instanceId ? n.startsWith(`see-${instanceId}-`) : n.startsWith('see-'))) : [];

/** Host nftables tables (the host namespace must never get one of ours). */
export const hostNftTables = (): string => sh('nft', ['list', 'tables']);

/**
 * Runs a command inside a namespace, asynchronously: the sandbox resolver lives in this very process,
 * so a synchronous child would block the answers it waits for.
 */
export const inNamespace = (ns: string, args: string[]): Promise<string> =>
  new Promise((resolve, reject) => {
    execFile('ip', ['netns', 'exec', ns, ...args], { encoding: 'utf8', timeout: 10_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout)));
  });

/** Packet counter of the first rule carrying `comment` in the gateway namespace's table. */
export async function nftCounter(ns: string, chain: string, comment: string): Promise<number> {
  const out = await inNamespace(ns, ['nft', 'list', 'chain', 'ip', 'see', chain]);
  const line = out.split('\n').find((l) => l.includes(`comment "${comment}"`));
  const m = line ? /counter packets (\d+)/.exec(line) : null;
  if (!m) throw new Error(`no counter "${comment}" in chain ${chain}`);
  return Number(m[1]);
}

/** Reads from an accepted socket until `n` bytes arrived (bounded by the socket's own life). */
export function readBytes(socket: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (c: Buffer): void => {
      chunks.push(c);
      total += c.length;
      if (total >= n) {
        socket.off('data', onData);
        resolve(Buffer.concat(chunks));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`socket closed after ${total} of ${n} bytes`)));
  });
}
