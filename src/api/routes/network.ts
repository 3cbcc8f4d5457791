import { Hono } from 'hono';
import { unenforcedFields, type NetworkPolicyService } from '../../control-plane/network-policies.js';
import type { SandboxNetworkPolicy } from '../../policy/types.js';
import { unenforcedNote } from '../../policy/unenforced.js';
import { compileErrorNote, type SandboxPolicyState } from '../../gateway/policy-cache.js';
import { decoders } from '../decoders.js';
import { ok } from '../envelope.js';
import { readBodyText } from '../body.js';
import { headerSafe, namedUnknownFields, warnUnknownFields } from '../unknown-fields-warning.js';

export function networkRoutes(deps: {
  network: NetworkPolicyService;
  /** What the data plane applied after the PUT (it compiles on PUT): a compile error is warned about. */
  appliedPolicy?: (sandboxId: string) => SandboxPolicyState | undefined;
}) {
  const { network } = deps;
  return new Hono()
    .get('/api/v1/sandboxes/:id/network', (c) => ok(c, network.get(c.req.param('id'))))
    .put('/api/v1/sandboxes/:id/network', async (c) => {
      const { decodeBodyWithUnknown, networkPolicySchema } = await decoders();
      const { value: decoded, unknownFields } = decodeBodyWithUnknown(await readBodyText(c), networkPolicySchema);
      const request = { ...decoded, mode: decoded.mode ?? '' } as SandboxNetworkPolicy;
      const result = network.put(c.req.param('id'), request, decoded.credentialBindings === undefined, namedUnknownFields(unknownFields));
      // The same wording as the audit's emulator_note on this sandbox's flows (gateway/policy-cache.ts).
      const note = unenforcedNote(unenforcedFields(result));
      if (note) c.header('Warning', `299 sandbox-egress-emulator "stored and validated but ${note}"`);
      warnUnknownFields(c, unknownFields);
      // Upstream answers 200 and ctld only logs the compile failure; the emulator also says it here.
      const applied = deps.appliedPolicy?.(c.req.param('id'));
      if (applied?.compileError) {
        c.header('Warning', `299 sandbox-egress-emulator "${headerSafe(compileErrorNote(applied.compileError, applied.compiled !== undefined).replaceAll('"', "'"))}"`, { append: true });
      }
      return ok(c, result);
    });
}
