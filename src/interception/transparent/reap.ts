import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../log.js';
import { ip, listNamespaces, namespacePids, type CommandPrefix } from './ip-command.js';
import { isOwnerAlive, listInstanceStates, readInstanceState, removeInstanceState } from './instance-state.js';
import { instanceOfNamespace, namePrefix } from './names.js';

export const netnsEtcDir = '/etc/netns';

export interface ReapOptions {
  stateDir: string;
  logger: Logger;
  /** Never reaped (the caller's own instance). */
  keep?: string;
  /** The rootless backend's user namespace (see ip-command.ts). */
  prefix?: CommandPrefix;
}

export interface ReapResult {
  instances: string[];
  namespaces: string[];
  killedPids: number[];
}

/**
 * Removes what dead instances left behind: their namespaces (and with them their veth pairs and
 * nftables rules), the processes still inside those namespaces (they belonged to the dead
 * instance: its helper, conntrack stream and sandbox commands), their /etc/netns files and state
 * files. An instance is dead when its state file is missing or its owner process is gone.
 */
export async function reapDeadInstances({ stateDir, logger, keep, prefix = [] }: ReapOptions): Promise<ReapResult> {
  const result: ReapResult = { instances: [], namespaces: [], killedPids: [] };
  const alive = new Map<string, boolean>();
  const isDead = (instanceId: string): boolean => {
    if (instanceId === keep) return false;
    let a = alive.get(instanceId);
    if (a === undefined) {
      const state = readInstanceState(stateDir, instanceId);
      a = state !== undefined && isOwnerAlive(state);
      alive.set(instanceId, a);
    }
    return !a;
  };

  const dead = new Set<string>();
  for (const ns of await listNamespaces(prefix)) {
    const inst = instanceOfNamespace(ns);
    if (inst === undefined || !isDead(inst)) continue;
    dead.add(inst);
    // Kill first: a namespace with processes inside outlives its name, and keeps its links.
    for (const pid of await namespacePids(ns, prefix)) {
      try {
        process.kill(pid, 'SIGKILL');
        result.killedPids.push(pid);
      } catch {
        // already gone
      }
    }
    try {
      await ip(['netns', 'delete', ns], prefix);
      result.namespaces.push(ns);
    } catch (err) {
      logger.warn({ namespace: ns, err: (err as Error).message }, 'could not delete a leftover namespace');
    }
  }
  for (const inst of listInstanceStates(stateDir)) if (isDead(inst)) dead.add(inst);
  for (const entry of safeReaddir(netnsEtcDir)) {
    const inst = instanceOfNamespace(entry);
    if (entry.startsWith(namePrefix) && inst !== undefined && isDead(inst)) {
      rmSync(join(netnsEtcDir, entry), { recursive: true, force: true });
      dead.add(inst);
    }
  }
  for (const inst of dead) {
    removeInstanceState(stateDir, inst);
    // The rootless backend keeps its sandboxes' resolv.conf and hosts under <stateDir>/<instance>.
    rmSync(join(stateDir, inst), { recursive: true, force: true });
  }
  result.instances = [...dead];
  if (result.instances.length > 0) logger.info(result, 'reaped leftovers of dead emulator instances');
  return result;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
