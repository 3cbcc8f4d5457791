import { execFile, execFileSync } from 'node:child_process';
import { EmulatorError } from '../../errors.js';

/** Runs `ip`/`nft` commands; failures become EmulatorError('netns_command_failed') with stderr. */

/**
 * An argv prefix that runs a command with the backend's privileges: empty for the root backend,
 * `nsenter --target <anchor> --user --mount --` for the rootless one (inside its user namespace).
 */
export type CommandPrefix = readonly string[];

/** `file args` behind `prefix`, as [file, args]. */
export function prefixed(prefix: CommandPrefix, file: string, args: readonly string[]): [string, string[]] {
  return prefix.length === 0 ? [file, [...args]] : [prefix[0]!, [...prefix.slice(1), file, ...args]];
}

const commandTimeoutMs = 10_000;
const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };

export function run(file: string, args: readonly string[], input?: string, prefix: CommandPrefix = []): Promise<string> {
  const [f, a] = prefixed(prefix, file, args);
  return new Promise((resolve, reject) => {
    const child = execFile(f, a, { timeout: commandTimeoutMs, env, encoding: 'utf8', maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new EmulatorError('netns_command_failed', `${file} ${args.join(' ')}: ${(stderr || err.message).trim()}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

export const ip = (args: readonly string[], prefix: CommandPrefix = []): Promise<string> => run('ip', args, undefined, prefix);
/** `ip -n <ns> -batch -`: many commands in one process inside a namespace. */
export const ipBatch = (namespace: string, lines: readonly string[], prefix: CommandPrefix = []): Promise<string> => run('ip', ['-n', namespace, '-batch', '-'], `${lines.join('\n')}\n`, prefix);
export const nftIn = (namespace: string, args: readonly string[], input?: string, prefix: CommandPrefix = []): Promise<string> => run('ip', ['netns', 'exec', namespace, 'nft', ...args], input, prefix);

/** Synchronous variant for 'exit' handlers, where nothing asynchronous runs any more. Never throws. */
export function runSync(file: string, args: readonly string[], prefix: CommandPrefix = []): boolean {
  const [f, a] = prefixed(prefix, file, args);
  try {
    execFileSync(f, a, { timeout: commandTimeoutMs, env, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Names from `ip netns list` ("name (id: 3)" or "name"). */
export async function listNamespaces(prefix: CommandPrefix = []): Promise<string[]> {
  const out = await ip(['netns', 'list'], prefix);
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.length > 0);
}

/** PIDs of processes in a named namespace. */
export async function namespacePids(namespace: string, prefix: CommandPrefix = []): Promise<number[]> {
  try {
    const out = await ip(['netns', 'pids', namespace], prefix);
    return out
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter((n) => Number.isInteger(n) && n > 1);
  } catch {
    return [];
  }
}
