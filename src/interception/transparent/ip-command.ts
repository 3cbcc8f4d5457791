import { execFile, execFileSync } from 'node:child_process';
import { EmulatorError } from '../../errors.js';

/** Runs `ip`/`nft` commands; failures become EmulatorError('netns_command_failed') with stderr. */

const commandTimeoutMs = 10_000;
const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };

export function run(file: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: commandTimeoutMs, env, encoding: 'utf8', maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new EmulatorError('netns_command_failed', `${file} ${args.join(' ')}: ${(stderr || err.message).trim()}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

export const ip = (args: readonly string[]): Promise<string> => run('ip', args);
/** `ip -n <ns> -batch -`: many commands in one process inside a namespace. */
export const ipBatch = (namespace: string, lines: readonly string[]): Promise<string> => run('ip', ['-n', namespace, '-batch', '-'], `${lines.join('\n')}\n`);
export const nftIn = (namespace: string, args: readonly string[], input?: string): Promise<string> => run('ip', ['netns', 'exec', namespace, 'nft', ...args], input);

/** Synchronous variant for 'exit' handlers, where nothing asynchronous runs any more. Never throws. */
export function runSync(file: string, args: readonly string[]): boolean {
  try {
    execFileSync(file, args, { timeout: commandTimeoutMs, env, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Names from `ip netns list` ("name (id: 3)" or "name"). */
export async function listNamespaces(): Promise<string[]> {
  const out = await ip(['netns', 'list']);
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.length > 0);
}

/** PIDs of processes in a named namespace. */
export async function namespacePids(namespace: string): Promise<number[]> {
  try {
    const out = await ip(['netns', 'pids', namespace]);
    return out
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter((n) => Number.isInteger(n) && n > 1);
  } catch {
    return [];
  }
}
