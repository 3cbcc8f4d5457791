import { Hono } from 'hono';
import { z } from 'zod';
import type { SandboxService } from '../../control-plane/sandboxes.js';
import { requestTeamId } from '../../control-plane/team-context.js';
import { ApiError } from '../error-status.js';
import type { AuditLog, NetworkAuditEvent } from '../../gateway/audit.js';
import { dryRunResolving, type DryRunResult } from '../../gateway/dry-run.js';
import { dryRunStory, recordedFlowStory, type FlowStory, type StoryDeps } from '../../gateway/flow-story.js';
import type { Gateway } from '../../gateway/gateway.js';
import type { SandboxRuntime } from '../../sandbox/runtime.js';
import type { TestProxy } from '../../test-proxy/proxy.js';
import { okJson } from '../envelope.js';
import { evaluateBody } from './sandbox-routes.js';
import { zodJsonBody, zodQuery } from './typed-input.js';

const issues = (e: z.ZodError) => e.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
export const storyQuery = z.object({ sandbox: z.string({ error: 'sandbox is required' }).min(1, 'sandbox is required') });

/** Events of one flow: a flow id is unique per gateway instance, so the newest instance's events. */
function flowEvents(audit: AuditLog, sandboxId: string, flowId: string, teamId: string | undefined): NetworkAuditEvent[] {
  const rows = audit.list({ sandboxId, operationId: flowId, limit: 1000, ...(teamId ? { teamId } : {}) }).map((r) => r.event);
  const newest = rows[rows.length - 1];
  if (!newest) return [];
  const instance = (e: NetworkAuditEvent) => (e.producer as { instance?: string } | undefined)?.instance;
  return rows.filter((e) => instance(e) === instance(newest));
}

/**
 * The web view's flow stories, relative to `/_emulator`: `GET /flows/{flowId}/story?sandbox=ID` for a
 * recorded flow and `POST /sandboxes/{id}/evaluate/story` for a dry run. Computed on request from the
 * records and the gateway's decide path; nothing is added to a running flow's work.
 */
export function storyRoutes(deps: {
  audit: AuditLog;
  sandboxes: SandboxService;
  runtime: SandboxRuntime;
  gateway: Gateway;
  proxy?: TestProxy;
  tenants: { tokenOf(teamId: string): string | undefined };
}) {
  const { audit, sandboxes, runtime, gateway, proxy } = deps;
  const storyDeps: StoryDeps = { gateway, ...(proxy ? { proxyConnections: () => proxy.connections.list() } : {}) };
  return new Hono()
    .get('/flows/:flowId/story', zodQuery(storyQuery, (e) => e.issues.map((i) => i.message).join('; ')), (c) => {
      const flowId = c.req.param('flowId');
      const { sandbox } = c.req.valid('query');
      // A tenant reads its own flows' stories; the emulator's own token every team's (as GET /flows).
      const team = requestTeamId();
      const events = flowEvents(audit, sandbox, flowId, team && deps.tenants.tokenOf(team) ? team : undefined);
      if (events.length === 0) throw new ApiError('not_found', `flow not found: ${flowId} (sandbox ${sandbox})`);
      return okJson<FlowStory>(c, recordedFlowStory(storyDeps, events));
    })
    .post('/sandboxes/:id/evaluate/story', async (c, next) => (sandboxes.get(c.req.param('id')!), next()), zodJsonBody(evaluateBody, issues), async (c) => {
      const id = c.req.param('id');
      const req = c.req.valid('json');
      const decision: DryRunResult = await dryRunResolving(gateway.decide, id, (host) => runtime.lookup(id, host), req);
      const story = dryRunStory(storyDeps, id, runtime.view(id)?.address, req.transport ?? 'tcp', decision);
      return okJson(c, { decision, story });
    });
}
