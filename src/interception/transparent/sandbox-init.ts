import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { EmulatorError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { prefixed, type CommandPrefix } from './ip-command.js';
import { sandboxInitArgs, sandboxInitReadyLine, type SandboxConfinement } from './sandbox-confinement.js';

/**
 * A sandbox's init process (see sandbox-confinement.ts), started inside the sandbox's network
 * namespace. Its stdin is a pipe held only by this process: when the emulator goes away (crash
 * included) the init sees the end of it and exits, and the kernel kills everything left in the
 * sandbox's PID namespace.
 */
export interface SandboxInitOptions {
  namespace: string;
  /** The sandbox's fstab (sandboxFstab), written by the backend. */
  fstabPath: string;
  confinement: SandboxConfinement;
  logger: Logger;
  prefix?: CommandPrefix;
  startTimeoutMs?: number;
}

const maxOutputBytes = 4096;

export class SandboxInit {
  private readonly process: ChildProcess;
  private exited = false;
  private output = '';

  private constructor({ namespace, fstabPath, confinement, prefix = [] }: SandboxInitOptions) {
    const [head, ...rest] = sandboxInitArgs(namespace, fstabPath, confinement, { perl: perlAvailable() });
    const [file, args] = prefixed(prefix, head!, rest);
    this.process = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' } });
    // Nothing is ever written: the pipe exists to close when we go away.
    this.process.stdin!.on('error', () => undefined);
    const collect = (d: Buffer): void => {
      if (this.output.length < maxOutputBytes) this.output += d.toString('utf8').slice(0, maxOutputBytes - this.output.length);
    };
    this.process.stdout!.on('data', collect);
    this.process.stderr!.on('data', collect);
    this.process.once('exit', () => (this.exited = true));
  }

  static async start(options: SandboxInitOptions): Promise<SandboxInit> {
    const init = new SandboxInit(options);
    try {
      await init.ready(options.startTimeoutMs ?? 10_000);
    } catch (err) {
      init.kill();
      throw err;
    }
    return init;
  }

  private ready(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (err?: Error): void => {
        clearTimeout(timer);
        this.process.stdout!.off('data', check);
        this.process.off('exit', onExit);
        this.process.off('error', onError);
        if (err) reject(err);
        else resolve();
      };
      const check = (): void => {
        if (this.output.includes(sandboxInitReadyLine)) done();
      };
      const onExit = (code: number | null, signal: string | null): void =>
        done(new EmulatorError('sandbox_init_failed', `sandbox init exited (code ${code}, signal ${signal}): ${this.output.trim()}`));
      const onError = (err: Error): void => done(new EmulatorError('sandbox_init_failed', `sandbox init could not start: ${err.message}`));
      const timer = setTimeout(() => done(new EmulatorError('sandbox_init_failed', `sandbox init did not start in time: ${this.output.trim()}`)), timeoutMs);
      this.process.stdout!.on('data', check);
      this.process.once('exit', onExit);
      this.process.once('error', onError);
      check();
    });
  }

  /** Host pid of the init's `unshare` parent: the init's mount and network namespaces, and its PID namespace for children. */
  get anchorPid(): number {
    return this.process.pid!;
  }

  get running(): boolean {
    return !this.exited && this.process.exitCode === null && this.process.signalCode === null;
  }

  /** Ends the sandbox: the `unshare` parent's death kills the init (--kill-child), and with it the PID namespace. */
  kill(): void {
    if (!this.running) return;
    try {
      this.process.kill('SIGKILL');
    } catch {
      // already gone
    }
  }

  async closed(): Promise<void> {
    if (!this.running) return;
    await new Promise<void>((resolve) => this.process.once('exit', () => resolve()));
  }
}

let perl: boolean | undefined;
/** perl on PATH (checked once): the init that reaps orphans; without it, a shell loop. */
function perlAvailable(): boolean {
  perl ??= (process.env.PATH ?? '/usr/bin:/bin').split(':').some((dir) => dir.startsWith('/') && existsSync(`${dir}/perl`));
  return perl;
}

/**
 * The emulator's PATH as the sandbox user can use it: entries in directories that user cannot search
 * (root's ~/.pyenv/shims, say) are dropped, so a shell finds /usr/bin/python3 instead of stopping at
 * "Permission denied". Root (with or without capabilities) keeps the whole PATH.
 */
export function sandboxPath(path: string, user: SandboxConfinement['user']): string {
  if (user.kind === 'root') return path;
  const searchable = (dir: string): boolean => {
    let current = '';
    for (const part of dir.split('/').filter(Boolean)) {
      current += `/${part}`;
      try {
        const st = statSync(current);
        const bit = st.uid === user.uid ? 0o100 : st.gid === user.gid ? 0o010 : 0o001;
        if ((st.mode & bit) === 0) return false;
      } catch {
        return false;
      }
    }
    return true;
  };
  return path
    .split(':')
    .filter((dir) => dir.startsWith('/') && searchable(dir))
    .join(':');
}
