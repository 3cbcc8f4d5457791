/**
 * The gateway's allowed TCP flows that are still open, by sandbox, each with the hash of the policy
 * that admitted it. When a sandbox's applied policy changes to another hash, every flow admitted under
 * the old one is closed, pending dials included (newer upstream proxy/active_flows.go: a flow is bound
 * to the policy incarnation that admitted it, and policy retirement closes its descriptors).
 */
export interface ActiveFlow {
  /** The admitting policy's hash; undefined when the sandbox had no compiled policy. */
  readonly policyHash: string | undefined;
  /** Closes both sides; called at most once. */
  retire(): void;
}

/** Upstream's bound on tracked flows (maxActiveTCPFlows); a flow past it is not tracked, not refused. */
export const maxActiveTcpFlows = 65_536;

export class ActiveFlows {
  private readonly bySandbox = new Map<string, Set<ActiveFlow>>();
  private count = 0;

  /** Tracks a flow; returns the function that forgets it (when the flow ends). */
  add(sandboxId: string, flow: ActiveFlow): () => void {
    if (this.count >= maxActiveTcpFlows) return () => {};
    let set = this.bySandbox.get(sandboxId);
    if (!set) this.bySandbox.set(sandboxId, (set = new Set()));
    set.add(flow);
    this.count++;
    return () => {
      if (!set.delete(flow)) return;
      this.count--;
      if (set.size === 0 && this.bySandbox.get(sandboxId) === set) this.bySandbox.delete(sandboxId);
    };
  }

  /** Retires the sandbox's flows not admitted under `currentHash` (all of them when the sandbox is gone). */
  retire(sandboxId: string, currentHash: string | undefined, gone = false): number {
    const set = this.bySandbox.get(sandboxId);
    if (!set) return 0;
    let retired = 0;
    for (const flow of [...set]) {
      if (!gone && flow.policyHash === currentHash) continue;
      set.delete(flow);
      this.count--;
      retired++;
      flow.retire();
    }
    if (set.size === 0) this.bySandbox.delete(sandboxId);
    return retired;
  }

  size(sandboxId?: string): number {
    return sandboxId === undefined ? this.count : (this.bySandbox.get(sandboxId)?.size ?? 0);
  }
}
