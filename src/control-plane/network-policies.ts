import { EmulatorError } from '../errors.js';
import { mergeBindings, mergeWithTemplate } from '../policy/merge.js';
import { policyForOutput, policyHash } from '../policy/normalize.js';
import type { CredentialBinding, SandboxNetworkPolicy } from '../policy/types.js';
import { validateNetworkPolicy } from '../policy/validate.js';
import type { Store } from '../store/db.js';
import type { ControlPlaneEvents } from './events.js';
import { pin, type SandboxService } from './sandboxes.js';

/** Policy fields the emulator stores and validates but does not enforce (PRODUCT.md deliberate differences). */
export function unenforcedFields(policy: SandboxNetworkPolicy): string[] {
  const out: string[] = [];
  if (policy.egress?.protocolRules?.length) out.push('protocolRules');
  if (policy.egress?.credentialRules?.length) out.push('credentialRules');
  const other = (policy.credentialBindings ?? []).filter((b) => b.projection?.type !== 'username_password');
  if (other.length) out.push('credentialBindings projections other than username_password');
  return out;
}

export interface NetworkPolicyService {
  /** The effective policy: the stored (template-merged) policy plus the stored bindings sorted by ref. */
  get(sandboxId: string): SandboxNetworkPolicy;
  /**
   * PUT semantics of upstream handlers_network.go, step by step. Returns the wire response.
   * `ignoredFields`: request keys that matched no policy field (dropped, as upstream drops them); kept
   * with the sandbox's policy until the next PUT so its flows can say so (emulator_note).
   */
  put(sandboxId: string, request: SandboxNetworkPolicy, bindingsOmitted: boolean, ignoredFields?: readonly string[]): SandboxNetworkPolicy;
  /** The effective policy for the data plane (no omitempty, bindings with their pinned versions). */
  effective(sandboxId: string): { policy: SandboxNetworkPolicy; pinned: Map<string, number>; ignoredFields: readonly string[] } | undefined;
}

export function createNetworkPolicyService(deps: { store: Store; events: ControlPlaneEvents; sandboxes: SandboxService; now: () => Date }): NetworkPolicyService {
  const { store, events, sandboxes, now } = deps;
  // Unknown request keys of each sandbox's last accepted PUT (emulator-only, not stored).
  const ignored = new Map<string, readonly string[]>();
  events.on('sandbox-deleted', (id) => void ignored.delete(id));
  events.on('reset', () => ignored.clear());

  const effective = (sandboxId: string): SandboxNetworkPolicy => {
    const record = sandboxes.get(sandboxId);
    const base = record.network ?? sandboxes.template(record.templateId)?.network ?? { mode: 'allow-all' };
    const { credentialBindings: _ignored, ...policy } = base;
    const bindings = store.bindings.forSandbox(sandboxId).map((b) => b.binding);
    return bindings.length ? { ...policy, credentialBindings: bindings } : policy;
  };

  return {
    get: (sandboxId) => policyForOutput(effective(sandboxId)),
    effective(sandboxId) {
      if (!store.sandboxes.get(sandboxId)) return undefined;
      const pinned = new Map(store.bindings.forSandbox(sandboxId).map((b) => [b.binding.ref, b.sourceVersion] as const));
      return { policy: effective(sandboxId), pinned, ignoredFields: ignored.get(sandboxId) ?? [] };
    },
    put(sandboxId, request, bindingsOmitted, ignoredFields = []) {
      // 2. mode check, before the sandbox lookup
      if ((request.mode ?? '') === '') throw new EmulatorError('invalid_network_policy', 'mode is required');
      if (request.mode !== 'allow-all' && request.mode !== 'block-all') {
        throw new EmulatorError('invalid_network_policy', 'mode must be "allow-all" or "block-all"');
      }
      // 3. ownership
      const record = sandboxes.get(sandboxId);
      const template = sandboxes.template(record.templateId);
      // 4. merge with the template (PUT replaces the previous sandbox-level policy)
      const { credentialBindings: requestBindings, ...requestPolicy } = request;
      const merged = mergeWithTemplate(template?.network, requestPolicy);
      // 5. bindings: omitted keeps the stored ones, [] clears them
      let bindings: CredentialBinding[];
      if (bindingsOmitted) bindings = store.bindings.forSandbox(sandboxId).map((b) => b.binding);
      else if (!requestBindings || requestBindings.length === 0) bindings = [];
      else bindings = mergeBindings(template?.network?.credentialBindings, requestBindings) ?? [];
      const { credentialBindings: _t, ...annotation } = merged;
      const candidate: SandboxNetworkPolicy = bindings.length ? { ...annotation, credentialBindings: bindings } : annotation;
      // 6. validation of the merged policy and bindings
      const invalid = validateNetworkPolicy(candidate);
      if (invalid) throw new EmulatorError('invalid_network_policy', `update pod annotations: invalid network policy: ${invalid}`);
      // 7. every binding's source must exist
      for (const b of bindings) {
        if (!store.credentialSources.get(record.teamId, b.sourceRef)) {
          throw new EmulatorError(
            'credential_source_missing',
            `failed to update network policy: update pod annotations: stage credential bindings: credential source "${b.sourceRef}" not found`,
          );
        }
      }
      // 8. storage: bindings pinned to the current version; annotation; sanitized request into config
      store.transaction(() => {
        store.bindings.replace(sandboxId, record.teamId, pin(store, record.teamId, bindings));
        store.sandboxes.setNetwork(sandboxId, annotation, policyHash(annotation), { ...record.config, network: requestPolicy }, now().toISOString());
      });
      if (ignoredFields.length) ignored.set(sandboxId, ignoredFields);
      else ignored.delete(sandboxId);
      // 9. "ctld" applies it immediately in the emulator
      events.emit('network-updated', sandboxId);
      // 10. the merged policy, bindings exactly as submitted (absent when [] was sent)
      return policyForOutput(candidate);
    },
  };
}
