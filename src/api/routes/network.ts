import { Hono } from 'hono';
import { unenforcedFields, type NetworkPolicyService } from '../../control-plane/network-policies.js';
import type { SandboxNetworkPolicy } from '../../policy/types.js';
import { decoders } from '../decoders.js';
import { ok } from '../envelope.js';
import { readBodyText } from '../body.js';

export function networkRoutes(deps: { network: NetworkPolicyService }) {
  const { network } = deps;
  return new Hono()
    .get('/api/v1/sandboxes/:id/network', (c) => ok(c, network.get(c.req.param('id'))))
    .put('/api/v1/sandboxes/:id/network', async (c) => {
      const { decodeBody, networkPolicySchema } = await decoders();
      const decoded = decodeBody(await readBodyText(c), networkPolicySchema, 'SandboxNetworkPolicy');
      const request = { ...decoded, mode: decoded.mode ?? '' } as SandboxNetworkPolicy;
      const result = network.put(c.req.param('id'), request, decoded.credentialBindings === undefined);
      const unenforced = unenforcedFields(result);
      if (unenforced.length) {
        c.header('Warning', `299 sandbox-egress-emulator "stored and validated but not enforced by the emulator: ${unenforced.join(', ')}"`);
      }
      return ok(c, result);
    });
}
