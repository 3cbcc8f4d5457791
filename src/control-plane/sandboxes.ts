import { randomBytes } from 'node:crypto';
import { EmulatorError } from '../errors.js';
import { mergeWithTemplate } from '../policy/merge.js';
import { policyHash } from '../policy/normalize.js';
import type { CredentialBinding, SandboxNetworkPolicy } from '../policy/types.js';
import { validateCredentialPolicy, validateTrafficPolicy } from '../policy/validate.js';
import type { Store } from '../store/db.js';
import { sandboxStatuses, type SandboxRecord, type SandboxStatus } from '../store/sandboxes.js';
import type { ControlPlaneEvents } from './events.js';
import { localClusterId, localUserId } from './identity.js';
import { currentTeamId, requestTeamId } from './team-context.js';
import type { Template } from './templates.js';

export interface ClaimRequest {
  template?: string;
  snapshot_id?: string;
  config?: {
    env_vars?: Record<string, string>;
    resources?: { memory?: string };
    ttl?: number;
    hard_ttl?: number;
    network?: SandboxNetworkPolicy;
    webhook?: { url?: string; secret?: string; watch_dir?: string };
    auto_resume?: boolean;
    services?: unknown[];
  };
}

export interface ClaimResponse {
  sandbox_id: string;
  status: SandboxStatus;
  pod_name: string;
  template: string;
  cluster_id: string;
}

export interface ListQuery {
  status?: string;
  template_id?: string;
  paused?: string;
  limit?: string;
  offset?: string;
}

export interface SandboxService {
  claim(req: ClaimRequest): ClaimResponse;
  /** The owned sandbox or the upstream 404. */
  get(id: string): SandboxRecord;
  list(q: ListQuery): { sandboxes: SandboxRecord[]; count: number; has_more: boolean };
  delete(id: string): void;
  template(id: string): Template | undefined;
}

export function sandboxNotFound(id: string): EmulatorError {
  return new EmulatorError('sandbox_not_found', `sandbox not found: sandbox "${id}" not found`);
}

/** Upstream claim: the network policy is merged with the template and loosely validated (parts dropped, never rejected). */
export function buildClaimPolicy(template: Template, requested: SandboxNetworkPolicy | undefined, webhookUrl: string | undefined, sourceExists: (name: string) => boolean): SandboxNetworkPolicy | undefined {
  if (!template.network && !requested) return undefined;
  let merged = mergeWithTemplate(template.network, requested ?? { mode: template.network?.mode ?? '' });
  if (webhookUrl && !merged.egress?.trafficRules?.length) merged = withWebhookHost(merged, webhookUrl);
  if (validateTrafficPolicy(merged)) {
    const { trafficRules: _t, protocolRules: _p, ...rest } = merged.egress ?? {};
    merged = { ...merged, egress: rest };
  }
  const bindingsResolvable = (merged.credentialBindings ?? []).every((b) => sourceExists(b.sourceRef));
  if (validateCredentialPolicy(merged) || !bindingsResolvable) {
    const { credentialRules: _c, ...rest } = merged.egress ?? {};
    const { credentialBindings: _b, ...policy } = merged;
    merged = { ...policy, egress: rest };
  }
  return merged;
}

function withWebhookHost(policy: SandboxNetworkPolicy, url: string): SandboxNetworkPolicy {
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return policy;
  }
  const egress = { ...(policy.egress ?? {}) };
  if (/^\d+\.\d+\.\d+\.\d+$/.test(host)) egress.allowedCidrs = [...(egress.allowedCidrs ?? []), `${host}/32`];
  else egress.allowedDomains = [...(egress.allowedDomains ?? []), host];
  return { ...policy, egress };
}

function parseList(q: ListQuery): { status?: SandboxStatus; templateId?: string; paused?: boolean; limit: number; offset: number } {
  const out: { status?: SandboxStatus; templateId?: string; paused?: boolean; limit: number; offset: number } = { limit: 50, offset: 0 };
  if (q.status !== undefined && q.status !== '') {
    if (!sandboxStatuses.includes(q.status as SandboxStatus)) throw new EmulatorError('invalid_list_query', `invalid status: ${q.status}`);
    out.status = q.status as SandboxStatus;
  }
  if (q.template_id) out.templateId = q.template_id;
  if (q.paused !== undefined && q.paused !== '') {
    if (q.paused !== 'true' && q.paused !== 'false') throw new EmulatorError('invalid_list_query', `invalid paused: ${q.paused}`);
    out.paused = q.paused === 'true';
  }
  if (q.limit !== undefined && q.limit !== '') {
    const n = Number(q.limit);
    if (!/^\d+$/.test(q.limit) || n < 1 || n > 200) throw new EmulatorError('invalid_list_query', 'limit must be between 1 and 200');
    out.limit = n;
  }
  if (q.offset !== undefined && q.offset !== '') {
    if (!/^\d+$/.test(q.offset)) throw new EmulatorError('invalid_list_query', 'offset must be a non-negative integer');
    out.offset = Number(q.offset);
  }
  return out;
}

export function createSandboxService(deps: { store: Store; events: ControlPlaneEvents; templates: Map<string, Template>; now: () => Date }): SandboxService {
  const { store, events, templates, now } = deps;

  const get = (id: string): SandboxRecord => {
    const record = store.sandboxes.get(id);
    if (!record) throw sandboxNotFound(id);
    // Outside a request (the data plane, library calls) every sandbox is visible.
    const team = requestTeamId();
    if (team !== undefined && record.teamId !== team) throw new EmulatorError('sandbox_of_another_team', 'sandbox belongs to a different team');
    return record;
  };

  return {
    template: (id) => templates.get(id),
    get,
    claim(req) {
      const templateId = (req.template ?? '').trim();
      if (templateId === '') throw new EmulatorError('template_required', 'template is required');
      const template = templates.get(templateId);
      if (!template) throw new EmulatorError('template_not_found', `template not found: ${templateId}`);
      const id = `sb-${randomBytes(8).toString('hex')}`;
      const teamId = currentTeamId();
      const at = now().toISOString();
      const { network: requested, ...restConfig } = req.config ?? {};
      const network = buildClaimPolicy(template, requested, req.config?.webhook?.url, (name) => store.credentialSources.get(teamId, name) !== undefined);
      const { credentialBindings, ...annotation } = network ?? { mode: '' };
      const config: Record<string, unknown> = { ...restConfig };
      if (requested) {
        const { credentialBindings: _b, ...sanitized } = requested;
        config.network = sanitized;
      }
      store.transaction(() => {
        store.sandboxes.insert({
          id,
          teamId,
          userId: localUserId,
          templateId,
          status: 'running',
          paused: false,
          autoResume: req.config?.auto_resume ?? true,
          podName: `${templateId}-${id.slice(3)}`,
          runtimeGeneration: 1,
          config,
          network: network ? (annotation as SandboxNetworkPolicy) : undefined,
          networkHash: network ? policyHash(annotation as SandboxNetworkPolicy) : undefined,
          hosts: {},
          claimedAt: at,
          createdAt: at,
          updatedAt: at,
        });
        if (credentialBindings?.length) store.bindings.replace(id, teamId, pin(store, teamId, credentialBindings));
      });
      events.emit('sandbox-claimed', id);
      return { sandbox_id: id, status: 'running', pod_name: `${templateId}-${id.slice(3)}`, template: templateId, cluster_id: localClusterId };
    },
    list(q) {
      const f = parseList(q);
      const { sandboxes, count } = store.sandboxes.list({ teamId: currentTeamId(), ...f });
      return { sandboxes, count, has_more: f.offset + sandboxes.length < count };
    },
    delete(id) {
      get(id);
      store.transaction(() => {
        store.bindings.deleteForSandbox(id);
        store.sandboxes.delete(id);
      });
      events.emit('sandbox-deleted', id);
    },
  };
}

/** Bindings pinned to each source's current version (the caller checked that every source exists). */
export function pin(store: Store, teamId: string, bindings: CredentialBinding[]): { binding: CredentialBinding; sourceVersion: number }[] {
  return bindings.map((binding) => ({
    binding,
    sourceVersion: store.credentialSources.get(teamId, binding.sourceRef)?.currentVersion ?? 0,
  }));
}
