import { Hono } from 'hono';
import { unenforcedFields, type NetworkPolicyService } from '../../control-plane/network-policies.js';
import type { SandboxNetworkPolicy } from '../../policy/types.js';
import { ignoredFieldsNote, unenforcedNote } from '../../policy/unenforced.js';
import { decoders } from '../decoders.js';
import { ok } from '../envelope.js';
import { readBodyText } from '../body.js';

/** At most this many unknown fields are named (in the header and the flows' note). */
const MAX_NAMED_UNKNOWN_FIELDS = 10;

/** A JSON key may hold anything; a header value must be printable ASCII. */
const headerSafe = (s: string) => s.replace(/[^\x20-\x7e]|["\\]/gu, (ch) => `\\u{${(ch.codePointAt(0) ?? 0).toString(16)}}`);

export function networkRoutes(deps: { network: NetworkPolicyService }) {
  const { network } = deps;
  return new Hono()
    .get('/api/v1/sandboxes/:id/network', (c) => ok(c, network.get(c.req.param('id'))))
    .put('/api/v1/sandboxes/:id/network', async (c) => {
      const { decodeBodyWithUnknown, networkPolicySchema } = await decoders();
      const { value: decoded, unknownFields } = decodeBodyWithUnknown(await readBodyText(c), networkPolicySchema);
      const request = { ...decoded, mode: decoded.mode ?? '' } as SandboxNetworkPolicy;
      const named = unknownFields.slice(0, MAX_NAMED_UNKNOWN_FIELDS).map((f) => headerSafe(f.path));
      if (unknownFields.length > named.length) named.push(`and ${unknownFields.length - named.length} more`);
      const result = network.put(c.req.param('id'), request, decoded.credentialBindings === undefined, named);
      // The same wording as the audit's emulator_note on this sandbox's flows (gateway/policy-cache.ts).
      const note = unenforcedNote(unenforcedFields(result));
      if (note) c.header('Warning', `299 sandbox-egress-emulator "stored and validated but ${note}"`);
      const ignored = ignoredFieldsNote(named);
      if (ignored) {
        const hints = unknownFields.filter((f) => f.didYouMean).map((f) => `${headerSafe(f.path)}: did you mean ${f.didYouMean}?`);
        c.header('Warning', `299 sandbox-egress-emulator "${ignored}${hints.length ? ` (${hints.slice(0, MAX_NAMED_UNKNOWN_FIELDS).join('; ')})` : ''}"`, { append: true });
      }
      return ok(c, result);
    });
}
