import type { ControlPlaneEvents } from '../control-plane/events.js';
import { unenforcedFields, type NetworkPolicyService } from '../control-plane/network-policies.js';
import type { Logger } from '../log.js';
import { compilePolicy, type CompileError } from '../policy/compile.js';
import type { CompiledPolicy } from '../policy/compiled-policy.js';
import { policyHash } from '../policy/normalize.js';
import { policyNote } from '../policy/unenforced.js';

/** What the data plane holds for a sandbox, as ctld's policy store (reference §2D). */
export interface SandboxPolicyState {
  /** undefined: no compiled policy at all, which upstream treats as unrestricted. */
  compiled: CompiledPolicy | undefined;
  /**
   * The hash of the policy `compiled` was made from: ctld's "runtime binding" of a flow. Flows admitted
   * under one hash are closed when a policy with another hash is applied (newer upstream
   * proxy/active_flows.go); undefined with no compiled policy.
   */
  hash?: string;
  /**
   * The compiled policy's fields the emulator does not enforce, worded for the audit's `emulator_note`
   * (as the PUT's Warning header words them); undefined when there are none. Made once per compile.
   */
  unenforcedNote?: string;
  /** The last compile error, when the current annotation did not compile (the previous policy is kept). */
  compileError?: CompileError;
}

export interface PolicyCache {
  get(sandboxId: string): SandboxPolicyState | undefined;
  close(): void;
}

/** The gateway's cache: also tells when a sandbox's applied policy changes. */
export interface AppliedPolicyCache extends PolicyCache {
  /**
   * Called after a sandbox's applied policy changed to another hash (or the sandbox is gone: state
   * undefined), once the new state is in place. Returns an unsubscribe function.
   */
  onApplied(listener: (sandboxId: string, state: SandboxPolicyState | undefined) => void): () => void;
}

/** The words of the emulator's note while a sandbox runs a previous policy because its latest did not compile. */
export function compileErrorNote(error: CompileError, kept: boolean): string {
  return `the latest network policy did not compile (${error.message}), so ${kept ? 'the previous policy stays enforced' : 'the sandbox has no policy (unrestricted)'}, as on the platform`;
}

/**
 * Compiled policies per sandbox, compiled when the control plane announces a change (ctld compiles an
 * annotation when it applies it: policy/store.go ReconcileSandboxes). A policy that fails to compile is
 * logged and leaves the previous compiled policy in place, or none.
 */
export function createPolicyCache(deps: { network: NetworkPolicyService; events: ControlPlaneEvents; logger?: Logger }): AppliedPolicyCache {
  const { network, events, logger } = deps;
  const states = new Map<string, SandboxPolicyState>();
  const listeners = new Set<(sandboxId: string, state: SandboxPolicyState | undefined) => void>();

  const notify = (sandboxId: string, state: SandboxPolicyState | undefined) => {
    for (const listener of listeners) listener(sandboxId, state);
  };

  const load = (sandboxId: string): SandboxPolicyState | undefined => {
    const effective = network.effective(sandboxId);
    if (!effective) {
      states.delete(sandboxId);
      return undefined;
    }
    const previous = states.get(sandboxId);
    const result = compilePolicy(effective.policy);
    let state: SandboxPolicyState;
    if (result.ok) {
      state = { compiled: result.policy, hash: policyHash(effective.policy), unenforcedNote: policyNote(unenforcedFields(effective.policy), effective.ignoredFields) };
    } else {
      // ctld's store logs the failure and keeps the entry it had (store.go: "Failed to compile network policy").
      logger?.warn({ sandboxId, err: { message: result.error.message } }, 'Failed to compile network policy');
      state = { ...previous, compiled: previous?.compiled, compileError: result.error };
    }
    states.set(sandboxId, state);
    return state;
  };
  const apply = (id: string) => {
    const before = states.get(id)?.hash;
    const state = load(id);
    if (state?.hash !== before) notify(id, state);
  };
  const onDelete = (id: string) => {
    states.delete(id);
    notify(id, undefined);
  };
  const onReset = () => {
    const ids = [...states.keys()];
    states.clear();
    for (const id of ids) notify(id, undefined);
  };
  events.on('network-updated', apply);
  events.on('sandbox-claimed', apply);
  events.on('sandbox-deleted', onDelete);
  events.on('reset', onReset);

  return {
    // A sandbox not seen since start (a persistent data dir) is compiled on first use.
    get: (sandboxId) => states.get(sandboxId) ?? load(sandboxId),
    onApplied(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    close() {
      events.off('network-updated', apply);
      events.off('sandbox-claimed', apply);
      events.off('sandbox-deleted', onDelete);
      events.off('reset', onReset);
      states.clear();
      listeners.clear();
    },
  };
}
