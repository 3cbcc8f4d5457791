import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { writeFileAtomicPrivateSync } from '../../store/write-file-atomic-private.js';
import { join } from 'node:path';

/**
 * One small state file per running instance, written before any namespace is created, so a later
 * instance can tell a live owner from a dead one. The owner's process start time is recorded with
 * its PID, so a recycled PID does not keep a dead instance's leftovers alive.
 */
export const defaultStateDir = '/run/sandbox-egress-emulator';

export interface InstanceState {
  instanceId: string;
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot). */
  startTime: string | undefined;
  createdAt: string;
}

export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
}

export function isOwnerAlive(state: InstanceState): boolean {
  const now = processStartTime(state.pid);
  if (now === undefined) return false;
  return state.startTime === undefined || state.startTime === now;
}

const stateFile = (dir: string, instanceId: string): string => join(dir, `${instanceId}.json`);

export function writeInstanceState(dir: string, state: InstanceState): void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  writeFileAtomicPrivateSync(stateFile(dir, state.instanceId), JSON.stringify(state));
}

export function readInstanceState(dir: string, instanceId: string): InstanceState | undefined {
  try {
    const parsed = JSON.parse(readFileSync(stateFile(dir, instanceId), 'utf8')) as Partial<InstanceState>;
    if (typeof parsed.pid !== 'number' || parsed.instanceId !== instanceId) return undefined;
    return { instanceId, pid: parsed.pid, startTime: parsed.startTime, createdAt: String(parsed.createdAt ?? '') };
  } catch {
    return undefined;
  }
}

export function removeInstanceState(dir: string, instanceId: string): void {
  rmSync(stateFile(dir, instanceId), { force: true });
}

/** Instance ids that have a state file. */
export function listInstanceStates(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => /^[a-z0-9]{5}\.json$/.test(f))
      .map((f) => f.slice(0, -'.json'.length));
  } catch {
    return [];
  }
}
