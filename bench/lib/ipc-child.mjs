// @ts-check
// The bench children's protocol, parent side: a Node child with an IPC channel sends {ready, ...}
// once listening, then answers each {id, op, args} with {id, result} or {id, error}. Every wait is
// bounded; a child that exits fails its pending calls at once.
import { spawn } from 'node:child_process';

/** @typedef {{ code: number | null, signal: NodeJS.Signals | null }} ChildExit */
/** @typedef {{ resolve: (v: any) => void, reject: (e: Error) => void, timer: NodeJS.Timeout }} PendingCall */

/**
 * Spawns `script` and waits (bounded) for its {ready} message. `call(op, args, timeoutMs)` asks it
 * something; `stop()` asks it to stop, then SIGTERM, then SIGKILL (bounded), and resolves with its exit.
 * @param {string} script
 * @param {string[]} args
 * @param {{ nodeFlags?: string[], stderr?: 'inherit' | 'ignore' | 'pipe', onExit?: (exit: ChildExit) => void, callTimeoutMs?: number }} [options]
 */
export async function startIpcChild(script, args, { nodeFlags = [], stderr = 'inherit', onExit, callTimeoutMs = 60_000 } = {}) {
  const child = spawn(process.execPath, [...nodeFlags, script, ...args], { stdio: ['ignore', 'inherit', stderr, 'ipc'] });
  /** @type {Map<number, PendingCall>} */
  const pending = new Map();
  let nextId = 1;
  /** @type {ChildExit | undefined} */
  let exit;
  /** @type {Promise<ChildExit>} */
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      const e = { code, signal };
      exit = e;
      for (const p of pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(`child exited (${code ?? signal})`));
      }
      pending.clear();
      onExit?.(e);
      resolve(e);
    }),
  );
  child.on('message', (/** @type {any} */ m) => {
    const p = m && pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    clearTimeout(p.timer);
    if (m.error) p.reject(new Error(m.error));
    else p.resolve(m.result);
  });
  const name = `${script} ${args[0] ?? ''}`.trim();
  /** @type {any} */
  const info = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} not ready within 30 s`)), 30_000);
    /** @param {any} m */
    const onMessage = (m) => {
      if (!m?.ready) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(m);
    };
    child.on('message', onMessage);
    void exited.then((e) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${e.code ?? e.signal}) before it was ready`));
    });
  });
  /** @param {string} op @param {unknown} [callArgs] @param {number} [timeoutMs] @returns {Promise<any>} */
  const call = (op, callArgs, timeoutMs = callTimeoutMs) =>
    new Promise((resolve, reject) => {
      if (exit) return reject(new Error(`child exited (${exit.code ?? exit.signal})`));
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${op}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, { resolve, reject, timer });
      child.send({ id, op, args: callArgs });
    });
  /** @type {Promise<ChildExit> | undefined} */
  let stopping;
  /** @returns {Promise<ChildExit>} */
  const stop = () =>
    (stopping ??= (async () => {
      if (exit) return exit;
      const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
      try {
        await call('stop', undefined, 10_000);
      } catch {
        if (!exit) child.kill('SIGTERM');
      }
      const e = await exited;
      clearTimeout(kill);
      return e;
    })());
  return { child, pid: child.pid, info, call, stop, exit: () => exit };
}

/**
 * The child side: answers each {id, op, args} from the parent with `ops[op](args)`; `stop` (the op,
 * or the parent going away) runs `stop()` and exits. Call `process.send({ready, ...})` after this.
 * @param {Record<string, (args: any) => unknown>} ops
 * @param {() => Promise<void>} [stop]
 */
export function answerParent(ops, stop = async () => {}) {
  /** @type {Promise<void> | undefined} */
  let stopping;
  // Started by startIpcChild, with an IPC channel: `process.send` is there.
  const send = /** @type {NonNullable<typeof process.send>} */ (process.send).bind(process);
  const stopOnce = () => (stopping ??= Promise.resolve().then(stop));
  process.on('message', async (/** @type {any} */ msg) => {
    const { id, op, args } = msg ?? {};
    try {
      if (op === 'stop') {
        await stopOnce();
        send({ id, result: true }, () => process.exit(0));
        return;
      }
      if (!Object.hasOwn(ops, op)) throw new Error(`unknown op ${op}`);
      send({ id, result: await ops[op]?.(args) });
    } catch (err) {
      send({ id, error: err instanceof Error ? err.message : String(err) });
    }
  });
  // The parent going away ends the child too (no orphans when a bench is interrupted).
  process.on('disconnect', () => void stopOnce().finally(() => process.exit(0)));
}
