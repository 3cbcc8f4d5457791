import { spawn, type ChildProcess } from 'node:child_process';
import { EmulatorError } from '../../errors.js';
import type { CommandPrefix } from './ip-command.js';

/**
 * The rootless backend's user namespace (TRANSPARENT.md, "Without root"): one process started with
 * `unshare --user --map-root-user --net --mount`, so this user is root inside it, with a network
 * namespace of its own (for `ip netns add` to return to) and a mount namespace where /run is a
 * private tmpfs (so `ip netns add` can create /run/netns). The host's namespaces are never touched.
 *
 * Every `ip`/`nft`/`conntrack`/helper command then runs behind `prefix` (nsenter into those three
 * namespaces). The anchor's stdin is a pipe only this process holds: when the emulator goes away,
 * crash included, the anchor exits, and with it the last reference to the namespaces it holds.
 */

const readyLine = 'see-userns-ready';
const anchorScript = `mount -t tmpfs -o mode=0755 see-run /run && echo ${readyLine} && exec cat >/dev/null`;
const maxOutputBytes = 4096;

export class UserNamespaceAnchor {
  private process: ChildProcess | undefined;
  private exited = false;
  private output = '';

  /** The argv prefix that runs a command inside the anchor's user, network and mount namespaces. Valid after `start()`. */
  get prefix(): CommandPrefix {
    if (!this.process?.pid) throw new EmulatorError('backend_not_started', 'user namespace is not started');
    // --preserve-credentials: nsenter cannot setgroups() in a namespace made by an unprivileged user,
    // and need not: this user is uid 0 inside, with every capability of the namespace.
    return ['nsenter', `--target=${this.process.pid}`, '--user', '--preserve-credentials', '--net', '--mount', '--'];
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  get running(): boolean {
    return this.process !== undefined && !this.exited && this.process.exitCode === null && this.process.signalCode === null;
  }

  async start(timeoutMs = 10_000): Promise<void> {
    const child = spawn('unshare', ['--user', '--map-root-user', '--net', '--mount', '--propagation', 'private', '--', 'sh', '-c', anchorScript], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' },
    });
    this.process = child;
    child.stdin!.on('error', () => undefined);
    const collect = (d: Buffer): void => {
      if (this.output.length < maxOutputBytes) this.output += d.toString('utf8').slice(0, maxOutputBytes - this.output.length);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    child.once('exit', () => (this.exited = true));
    await new Promise<void>((resolve, reject) => {
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        child.off('exit', onExit);
        child.off('error', onError);
        if (err) reject(err);
        else resolve();
      };
      const check = (): void => {
        if (this.output.includes(readyLine)) finish();
      };
      const onExit = (code: number | null): void =>
        finish(new EmulatorError('userns_failed', `\`unshare --user --map-root-user --net --mount\` exited (code ${code}): ${this.output.trim()}`));
      const onError = (err: Error): void => finish(new EmulatorError('userns_failed', `cannot run unshare: ${err.message}`));
      const timer = setTimeout(() => finish(new EmulatorError('userns_failed', 'the user namespace did not start in time')), timeoutMs);
      child.stdout!.on('data', check);
      child.once('exit', onExit);
      child.once('error', onError);
    }).catch((err: unknown) => {
      this.kill();
      throw err;
    });
  }

  kill(): void {
    if (!this.running) return;
    try {
      this.process!.kill('SIGKILL');
    } catch {
      // already gone
    }
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    const exited = new Promise<void>((resolve) => this.process!.once('exit', () => resolve()));
    this.kill();
    await exited;
  }
}
