import { randomBytes } from 'node:crypto';
import { EmulatorError } from '../errors.js';
import type { SandboxSubprocess } from '../interception/namespace-backend.js';
import type { SandboxRuntime } from './runtime.js';

/** The cmd-context subset of procd (reference §1.6), run through the sandbox runtime. */
export interface CreateContextRequest {
  type?: string;
  cmd?: { command?: string[] };
  repl?: unknown;
  wait_until_done?: boolean;
  cwd?: string;
  env_vars?: Record<string, string>;
  pty_size?: { rows?: number; cols?: number };
  idle_timeout_sec?: number;
  ttl_sec?: number;
}

export interface ContextResponse {
  id: string;
  type: 'cmd';
  alias: string;
  command: string[];
  cwd: string;
  env_vars: Record<string, string>;
  running: boolean;
  paused: boolean;
  created_at: string;
  stdout?: string;
  stderr?: string;
  exit_code?: number;
  state?: 'stopped' | 'killed' | 'crashed';
}

interface Context {
  response: ContextResponse;
  sandboxId: string;
  process: SandboxSubprocess;
  done: Promise<void>;
}

/** Output kept per stream; a longer output is cut (the emulator is not a log store). */
const maxOutputBytes = 4 * 1024 * 1024;
/** Finished contexts kept per sandbox for GET. */
const maxFinishedPerSandbox = 100;

const cut = (s: string) => (s.length > maxOutputBytes ? s.slice(0, maxOutputBytes) : s);

/** Upstream's final state: exit 0 → stopped, killed (-1 / 137 / a signal) → killed, anything else → crashed. */
function finalState(exitCode: number | undefined, signal: string | undefined): 'stopped' | 'killed' | 'crashed' {
  if (signal || exitCode === 137 || exitCode === -1) return 'killed';
  return exitCode === 0 ? 'stopped' : 'crashed';
}

export interface ContextService {
  create(sandboxId: string, req: CreateContextRequest): Promise<ContextResponse>;
  list(sandboxId: string): ContextResponse[];
  get(sandboxId: string, contextId: string): ContextResponse;
  delete(sandboxId: string, contextId: string): void;
  /** Kills every context of a sandbox (it is being deleted) or of all sandboxes. */
  killAll(sandboxId?: string): Promise<void>;
}

export function createContextService(deps: { runtime: SandboxRuntime; now?: () => Date }): ContextService {
  const { runtime, now = () => new Date() } = deps;
  const contexts = new Map<string, Context>();
  const invalid = (message: string) => new EmulatorError('invalid_context_request', message);
  const notFound = () => new EmulatorError('context_not_found', 'context not found');

  const find = (sandboxId: string, contextId: string) => {
    const c = contexts.get(contextId);
    if (!c || c.sandboxId !== sandboxId) throw notFound();
    return c;
  };

  const prune = (sandboxId: string) => {
    const finished = [...contexts.values()].filter((c) => c.sandboxId === sandboxId && !c.response.running);
    for (const c of finished.slice(0, Math.max(0, finished.length - maxFinishedPerSandbox))) contexts.delete(c.response.id);
  };

  return {
    async create(sandboxId, req) {
      if (req.type !== 'cmd' && req.type !== 'repl') throw invalid(`invalid context type "${req.type ?? ''}": must be cmd or repl`);
      if (req.type === 'cmd' && req.repl !== undefined) throw invalid('repl is only valid for repl contexts');
      if (req.type === 'repl') {
        if (req.cmd !== undefined) throw invalid('cmd is only valid for cmd contexts');
        throw invalid('repl contexts are not supported by sandbox-egress-emulator; use a cmd context');
      }
      if ((req.idle_timeout_sec ?? 0) < 0 || (req.ttl_sec ?? 0) < 0) throw invalid('idle_timeout_sec and ttl_sec must be >= 0');
      const command = req.cmd?.command ?? [];
      if (command.length === 0 || command[0] === '') throw invalid('command is required');
      const id = `ctx-${randomBytes(8).toString('hex')}`;
      const cwd = req.cwd || '/';
      const env = req.env_vars ?? {};
      let process: SandboxSubprocess;
      try {
        ({ subprocess: process } = await runtime.exec(sandboxId, command, { env, cwd, timeoutMs: req.ttl_sec ? req.ttl_sec * 1000 : undefined }));
      } catch (err) {
        throw new EmulatorError('context_start_failed', `failed to start command: ${(err as Error).message}`);
      }
      const response: ContextResponse = { id, type: 'cmd', alias: command[0]!, command, cwd, env_vars: env, running: true, paused: false, created_at: now().toISOString() };
      const done = (async () => {
        const r = await process;
        const signal = r.signal ?? undefined;
        const exitCode = r.exitCode ?? (signal ? 137 : 127);
        response.running = false;
        response.stdout = cut(String(r.stdout ?? ''));
        response.stderr = cut(String(r.stderr ?? '') || (r.failed && r.exitCode === undefined && !signal ? `${(r as { shortMessage?: string }).shortMessage ?? 'command failed to start'}\n` : ''));
        response.exit_code = exitCode;
        response.state = finalState(exitCode, signal);
        prune(sandboxId);
      })();
      contexts.set(id, { response, sandboxId, process, done });
      if (req.wait_until_done) await done;
      return { ...response };
    },
    list: (sandboxId) => [...contexts.values()].filter((c) => c.sandboxId === sandboxId).map((c) => ({ ...c.response })),
    get: (sandboxId, contextId) => ({ ...find(sandboxId, contextId).response }),
    delete(sandboxId, contextId) {
      const c = find(sandboxId, contextId);
      if (c.response.running) c.process.kill('SIGKILL');
      contexts.delete(contextId);
    },
    async killAll(sandboxId) {
      const targets = [...contexts.values()].filter((c) => !sandboxId || c.sandboxId === sandboxId);
      for (const c of targets) if (c.response.running) c.process.kill('SIGKILL');
      await Promise.all(targets.map((c) => c.done.catch(() => undefined)));
      for (const c of targets) contexts.delete(c.response.id);
    },
  };
}
