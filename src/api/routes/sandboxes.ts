import { Hono } from 'hono';
import type { SandboxService } from '../../control-plane/sandboxes.js';
import type { SandboxRecord } from '../../store/sandboxes.js';
import { decoders } from '../decoders.js';
import { ok } from '../envelope.js';
import { readBodyText } from '../body.js';
import { ApiError } from '../error-status.js';
import type { ClaimRequest } from '../../control-plane/sandboxes.js';
import { warnUnknownFields } from '../unknown-fields-warning.js';

/** Upstream's Sandbox object (snake_case). */
export function sandboxView(r: SandboxRecord) {
  return {
    id: r.id,
    template_id: r.templateId,
    team_id: r.teamId,
    user_id: r.userId,
    status: r.status,
    paused: r.paused,
    auto_resume: r.autoResume,
    pod_name: r.podName,
    runtime_generation: r.runtimeGeneration,
    expires_at: null,
    hard_expires_at: null,
    claimed_at: r.claimedAt,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
  };
}

/** Upstream's SandboxSummary (list items). */
export function sandboxSummary(r: SandboxRecord) {
  return {
    id: r.id,
    template_id: r.templateId,
    status: r.status,
    paused: r.paused,
    runtime_generation: r.runtimeGeneration,
    created_at: r.createdAt,
    expires_at: null,
    hard_expires_at: null,
    updated_at: r.updatedAt,
  };
}

/** `afterClaim` brings up the sandbox's runtime (interception, namespace) before the claim is answered. */
export function sandboxRoutes(deps: { sandboxes: SandboxService; afterClaim?: (sandboxId: string) => Promise<void> }) {
  const { sandboxes, afterClaim } = deps;
  return new Hono()
    .post('/api/v1/sandboxes', async (c) => {
      const { decodeBodyWithUnknown, claimRequestSchema } = await decoders();
      const { value, unknownFields } = decodeBodyWithUnknown(await readBodyText(c), claimRequestSchema);
      const req = value as ClaimRequest;
      const claimed = sandboxes.claim(req);
      if (afterClaim) {
        try {
          await afterClaim(claimed.sandbox_id);
        } catch (err) {
          sandboxes.delete(claimed.sandbox_id);
          throw new ApiError('internal_error', `failed to start the sandbox: ${(err as Error).message}`);
        }
      }
      warnUnknownFields(c, unknownFields, 'request');
      return ok(c, claimed, 201);
    })
    .get('/api/v1/sandboxes', (c) => {
      const { sandboxes: list, count, has_more } = sandboxes.list(c.req.query());
      return ok(c, { sandboxes: list.map(sandboxSummary), count, has_more });
    })
    .get('/api/v1/sandboxes/:id', (c) => ok(c, sandboxView(sandboxes.get(c.req.param('id')))))
    .delete('/api/v1/sandboxes/:id', (c) => {
      sandboxes.delete(c.req.param('id'));
      return ok(c, { message: 'sandbox terminated successfully' });
    });
}
