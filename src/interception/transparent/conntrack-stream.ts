import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Logger } from '../../log.js';
import { prefixed, type CommandPrefix } from './ip-command.js';
import { parseConntrackLine, type ConntrackEntry } from './conntrack-line.js';

/**
 * One `conntrack -E -e NEW` process per gateway namespace: every new conntrack entry (TCP and UDP)
 * is reported with its original tuple, before or shortly after the main process sees the flow.
 * The netlink receive buffer is enlarged so bursts of thousands of new flows are not dropped.
 */
export interface ConntrackStreamOptions {
  namespace: string;
  logger: Logger;
  onEntry(entry: ConntrackEntry): void;
  onExit?(code: number | null, signal: NodeJS.Signals | null): void;
  bufferBytes?: number;
  /** Runs the stream inside the rootless backend's user namespace (see ip-command.ts). */
  prefix?: CommandPrefix;
}

export class ConntrackStream {
  readonly process: ChildProcess;
  private exited = false;

  constructor({ namespace, logger, onEntry, onExit, bufferBytes = 16 * 1024 * 1024, prefix = [] }: ConntrackStreamOptions) {
    const [file, args] = prefixed(prefix, 'ip', ['netns', 'exec', namespace, 'conntrack', '-E', '-e', 'NEW', '-b', String(bufferBytes)]);
    this.process = spawn(file, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    const lines = createInterface({ input: this.process.stdout!, crlfDelay: Infinity });
    lines.on('line', (line) => {
      const entry = parseConntrackLine(line);
      if (entry) onEntry(entry);
    });
    let stderr = '';
    this.process.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < 2048) stderr += d.toString('utf8');
    });
    this.process.once('error', (err) => logger.warn({ err: err.message }, 'conntrack event stream could not start'));
    this.process.once('exit', (code, signal) => {
      this.exited = true;
      if (code !== 0 && signal !== 'SIGTERM' && signal !== 'SIGKILL') logger.warn({ code, signal, stderr: stderr.trim() }, 'conntrack event stream ended');
      onExit?.(code, signal);
    });
  }

  get running(): boolean {
    return !this.exited && this.process.exitCode === null && this.process.signalCode === null;
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    const exited = new Promise<void>((resolve) => this.process.once('exit', () => resolve()));
    this.process.kill('SIGKILL');
    await exited;
  }
}

/**
 * The namespace's conntrack table as seen through `/proc/<pid of a process in the namespace>/net/nf_conntrack`:
 * the method when the event stream is unavailable, and the backstop for events that arrive late or
 * are lost in a burst. Concurrent lookups share one read.
 */
export class ProcConntrackTable {
  private inFlight: { startedAt: number; entries: Promise<ConntrackEntry[]> } | undefined;

  constructor(private readonly pid: () => number | undefined) {}

  /**
   * The table as read at or after `notBefore` (performance.now() time): a read already in flight
   * that started later is shared, an older one is not (it may predate the entry being looked for).
   */
  async entries(notBefore = performance.now()): Promise<ConntrackEntry[]> {
    const current = this.inFlight;
    if (current && current.startedAt >= notBefore) return current.entries;
    if (current) await current.entries.catch(() => undefined);
    if (this.inFlight && this.inFlight !== current && this.inFlight.startedAt >= notBefore) return this.inFlight.entries;
    const read = { startedAt: performance.now(), entries: this.read() };
    this.inFlight = read;
    void read.entries.finally(() => {
      if (this.inFlight === read) this.inFlight = undefined;
    });
    return read.entries;
  }

  private async read(): Promise<ConntrackEntry[]> {
    const pid = this.pid();
    if (pid === undefined) return [];
    let text: string;
    try {
      text = await readFile(`/proc/${pid}/net/nf_conntrack`, 'utf8');
    } catch {
      return []; // not readable (e.g. inside an unprivileged user namespace)
    }
    const out: ConntrackEntry[] = [];
    for (const line of text.split('\n')) {
      const e = parseConntrackLine(line);
      if (e) out.push(e);
    }
    return out;
  }
}
