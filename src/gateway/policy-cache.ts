import type { ControlPlaneEvents } from '../control-plane/events.js';
import { unenforcedFields, type NetworkPolicyService } from '../control-plane/network-policies.js';
import { compilePolicy, type CompileError } from '../policy/compile.js';
import type { CompiledPolicy } from '../policy/compiled-policy.js';
import { policyNote } from '../policy/unenforced.js';

/** What the data plane holds for a sandbox, as ctld's policy store (reference §2D). */
export interface SandboxPolicyState {
  /** undefined: no compiled policy at all, which upstream treats as unrestricted. */
  compiled: CompiledPolicy | undefined;
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

/**
 * Compiled policies per sandbox, refreshed when the control plane announces a change ("ctld applies
 * the annotation"). A policy that fails to compile keeps the previous compiled one, or none.
 */
export function createPolicyCache(deps: { network: NetworkPolicyService; events: ControlPlaneEvents }): PolicyCache {
  const { network, events } = deps;
  const states = new Map<string, SandboxPolicyState>();
  // Updates only mark a policy stale; it is compiled when the next flow needs it (PUTs stay cheap).
  const stale = new Set<string>();

  const load = (sandboxId: string): SandboxPolicyState | undefined => {
    const effective = network.effective(sandboxId);
    if (!effective) {
      states.delete(sandboxId);
      return undefined;
    }
    const previous = states.get(sandboxId);
    const result = compilePolicy(effective.policy);
    const state: SandboxPolicyState = result.ok
      ? { compiled: result.policy, unenforcedNote: policyNote(unenforcedFields(effective.policy), effective.ignoredFields) }
      : { compiled: previous?.compiled, unenforcedNote: previous?.unenforcedNote, compileError: result.error };
    states.set(sandboxId, state);
    stale.delete(sandboxId);
    return state;
  };
  const onUpdate = (id: string) => void stale.add(id);
  const onDelete = (id: string) => {
    states.delete(id);
    stale.delete(id);
  };
  const onReset = () => {
    states.clear();
    stale.clear();
  };
  events.on('network-updated', onUpdate);
  events.on('sandbox-claimed', onUpdate);
  events.on('sandbox-deleted', onDelete);
  events.on('reset', onReset);

  return {
    get: (sandboxId) => (stale.has(sandboxId) ? load(sandboxId) : (states.get(sandboxId) ?? load(sandboxId))),
    close() {
      events.off('network-updated', onUpdate);
      events.off('sandbox-claimed', onUpdate);
      events.off('sandbox-deleted', onDelete);
      events.off('reset', onReset);
      states.clear();
      stale.clear();
    },
  };
}
