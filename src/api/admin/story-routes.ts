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
import { networkAuditEventSchema } from './flows-routes.js';
import { body, describeRoute, idParam, ok, pathParam, queryParam, responses, tag } from './openapi-operation.js';
import { arrayOf, componentSchema, int, objectOf, oneOfStrings, str } from './openapi-schema.js';
import { connectionLogEntrySchema } from './proxy-routes.js';
import { dryRunResultSchema, evaluateBody, evaluateRequestSchema } from './sandbox-routes.js';
import { zodJsonBody, zodQuery } from './typed-input.js';

const issues = (e: z.ZodError) => e.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
export const storyQuery = z.object({ sandbox: z.string({ error: 'sandbox is required' }).min(1, 'sandbox is required') });

const storyStep = {
  type: 'object',
  required: ['step', 'status', 'summary'],
  properties: { step: str(), status: oneOfStrings(['ok', 'failed', 'skipped', 'info']), summary: str(), at: str(), offsetMs: int(), durationMs: int(), facts: { type: 'object' } },
};

const flowStorySchema = componentSchema('FlowStory', () =>
  objectOf<FlowStory>({
    required: {
      sandboxId: str(),
      steps: arrayOf(
        storyStep,
        'classification, platform-checks, rule-evaluation, domain-and-verification, decision, proxy-handshake, relay, close: each with status (ok, failed, skipped, info), summary, and where recorded at / offsetMs / durationMs and facts',
      ),
      decision: { type: 'object', required: ['action', 'reason', 'phase', 'explanation'], description: "the decision recomputed through the gateway's decide path" },
      events: arrayOf(networkAuditEventSchema, "the flow's audit events (none for a dry run)"),
    },
    optional: {
      flowId: str(),
      host: str(),
      hostSource: oneOfStrings(['tls-sni', 'http-host', 'quic-sni', 'dns-cache', 'dns-query', 'classifier']),
      consistent: { type: 'boolean', description: "false when today's policy decides differently from the recorded decision" },
      rules: { type: 'object', description: 'the destination phase rule by rule: platformChecks, tried (groups matched or not), notTried, firstMatch, probe' },
      mode: str('the policy mode'),
      proxy: { type: 'object', required: ['entry', 'correlation'], properties: { entry: connectionLogEntrySchema, correlation: oneOfStrings(['source', 'target-and-time']) } },
    },
  }),
);

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
    .get(
      '/flows/:flowId/story',
      describeRoute({
        operationId: 'flowStory', tags: [tag.flows], summary: "A recorded flow's story: classification, platform checks, rules tried, decision, the proxy's view, relay, close",
        parameters: [pathParam('flowId', 'the flow id (`flow_id` of its audit events)'), queryParam('sandbox', 'the sandbox id', str(), true)],
        description: 'Computed on request from the audit events, the test proxy connection log and the current policy (`consistent` is false when it has changed since the flow).',
        responses: responses({ '200': ok('the story', flowStorySchema) }, 'BadRequest', 'NotFound'),
      }),
      zodQuery(storyQuery, (e) => e.issues.map((i) => i.message).join('; ')),
      (c) => {
        const flowId = c.req.param('flowId');
        const { sandbox } = c.req.valid('query');
        // A tenant reads its own flows' stories; the emulator's own token every team's (as GET /flows).
        const team = requestTeamId();
        const events = flowEvents(audit, sandbox, flowId, team && deps.tenants.tokenOf(team) ? team : undefined);
        if (events.length === 0) throw new ApiError('not_found', `flow not found: ${flowId} (sandbox ${sandbox})`);
        return okJson<FlowStory>(c, recordedFlowStory(storyDeps, events));
      },
    )
    .post(
      '/sandboxes/:id/evaluate/story',
      describeRoute({
        operationId: 'evaluateStory', tags: [tag.sandboxes], parameters: [idParam], summary: "A dry run with its story (the web view's evaluate form)", requestBody: body(evaluateRequestSchema),
        responses: responses(
          { '200': ok('the decision and its story', { type: 'object', required: ['decision', 'story'], properties: { decision: dryRunResultSchema, story: flowStorySchema } }) },
          'BadRequest',
          'NotFound',
        ),
      }),
      async (c, next) => (sandboxes.get(c.req.param('id')!), next()),
      zodJsonBody(evaluateBody, issues),
      async (c) => {
        const id = c.req.param('id');
        const req = c.req.valid('json');
        const decision: DryRunResult = await dryRunResolving(gateway.decide, id, (host) => runtime.lookup(id, host), req);
        const story = dryRunStory(storyDeps, id, runtime.view(id)?.address, req.transport ?? 'tcp', decision);
        return okJson(c, { decision, story });
      },
    );
}
