import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { EmulatorError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { prefixed, type CommandPrefix } from './ip-command.js';

/**
 * The main-process side of the gateway-namespace helper (see helper-process.js): spawns it inside
 * the namespace with an IPC channel and turns its replies into promises.
 */

type HelperReply =
  | { op: 'ready'; pid: number }
  | { op: 'listening'; id: number; port: number }
  | { op: 'probed'; id: number; sourcePort: number }
  | { op: 'error'; id: number; message: string };

interface Pending {
  resolve(reply: { msg: HelperReply; handle: unknown }): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export interface GatewayHelperOptions {
  namespace: string;
  logger: Logger;
  requestTimeoutMs?: number;
  /** Runs the helper inside the rootless backend's user namespace (see ip-command.ts). */
  prefix?: CommandPrefix;
}

const maxStderrBytes = 4096;
/** The helper's own file, next to this module (src/, dist/, or the bin's dist/bin/). */
const helperFile = fileURLToPath(new URL('./helper-process.js', import.meta.url));

export class GatewayHelper {
  readonly process: ChildProcess;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private stderr = '';
  private exited = false;
  private readonly requestTimeoutMs: number;
  private readonly ready: Promise<number>;

  private constructor({ namespace, logger, requestTimeoutMs = 5000, prefix = [] }: GatewayHelperOptions) {
    this.requestTimeoutMs = requestTimeoutMs;
    const [file, args] = prefixed(prefix, 'ip', ['netns', 'exec', namespace, process.execPath, helperFile]);
    this.process = spawn(file, args, {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      // The helper needs nothing from our environment.
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    this.process.stderr?.on('data', (d: Buffer) => {
      if (this.stderr.length < maxStderrBytes) this.stderr += d.toString('utf8').slice(0, maxStderrBytes - this.stderr.length);
    });
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new EmulatorError('helper_start_failed', 'gateway helper did not start in time')), this.requestTimeoutMs);
      this.process.once('error', (err) => {
        clearTimeout(timer);
        reject(new EmulatorError('helper_start_failed', `gateway helper could not start: ${err.message}`));
      });
      this.process.on('message', (msg: HelperReply, handle: unknown) => {
        if (msg?.op === 'ready') {
          clearTimeout(timer);
          resolve(msg.pid);
          return;
        }
        const p = this.pending.get(msg?.id);
        if (!p) return;
        this.pending.delete(msg.id);
        clearTimeout(p.timer);
        if (msg.op === 'error') p.reject(new EmulatorError('helper_request_failed', `gateway helper: ${msg.message}`));
        else p.resolve({ msg, handle });
      });
      this.process.once('exit', (code, signal) => {
        this.exited = true;
        clearTimeout(timer);
        const err = new EmulatorError('helper_exited', `gateway helper exited (code ${code}, signal ${signal}) ${this.stderr.trim()}`.trim());
        reject(err);
        for (const p of this.pending.values()) {
          clearTimeout(p.timer);
          p.reject(err);
        }
        this.pending.clear();
        logger.debug({ code, signal }, 'gateway helper exited');
      });
    });
    this.ready.catch(() => undefined);
  }

  /** Starts the helper and waits until its IPC channel is up; resolves with it. */
  static async start(options: GatewayHelperOptions): Promise<GatewayHelper> {
    const helper = new GatewayHelper(options);
    try {
      await helper.ready;
    } catch (err) {
      helper.kill();
      throw err;
    }
    return helper;
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  /** The helper process is alive and its IPC channel open. */
  get running(): boolean {
    return !this.exited && this.process.exitCode === null && this.process.signalCode === null && this.process.connected;
  }

  async listenTcp(host: string, port: number): Promise<{ server: net.Server; port: number }> {
    const { msg, handle } = await this.request({ op: 'listen', kind: 'tcp', host, port });
    if (msg.op !== 'listening' || !(handle instanceof net.Server)) throw new EmulatorError('helper_request_failed', 'gateway helper sent no TCP server');
    return { server: handle, port: msg.port };
  }

  async listenUdp(host: string, port: number): Promise<{ socket: dgram.Socket; port: number }> {
    const { msg, handle } = await this.request({ op: 'listen', kind: 'udp', host, port });
    if (msg.op !== 'listening' || !(handle instanceof dgram.Socket)) throw new EmulatorError('helper_request_failed', 'gateway helper sent no UDP socket');
    return { socket: handle, port: msg.port };
  }

  /** Makes the helper send one datagram inside the namespace; resolves with its source port. */
  async probe(port: number): Promise<number> {
    const { msg } = await this.request({ op: 'probe', port });
    if (msg.op !== 'probed') throw new EmulatorError('helper_request_failed', 'gateway helper did not probe');
    return msg.sourcePort;
  }

  /** The helper kills `pid` when this process goes away (crash included). */
  watch(pid: number): void {
    if (!this.exited && this.process.connected) this.process.send({ op: 'watch', pid });
  }

  kill(): void {
    if (this.exited) return;
    try {
      this.process.kill('SIGKILL');
    } catch {
      // already gone
    }
  }

  /** Resolves when the helper process has exited (immediately if it has). */
  async closed(): Promise<void> {
    if (this.exited || this.process.exitCode !== null || this.process.signalCode !== null) return;
    await new Promise<void>((resolve) => this.process.once('exit', () => resolve()));
  }

  private request(body: Record<string, unknown>): Promise<{ msg: HelperReply; handle: unknown }> {
    if (this.exited || !this.process.connected) return Promise.reject(new EmulatorError('helper_exited', 'gateway helper is not running'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new EmulatorError('helper_request_failed', `gateway helper did not answer ${String(body.op)} in time`));
      }, this.requestTimeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.process.send({ ...body, id });
    });
  }
}
