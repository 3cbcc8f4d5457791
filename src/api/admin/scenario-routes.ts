import { Hono } from 'hono';
import { localTeamId } from '../../control-plane/identity.js';
import type { AuditLog, NetworkAuditEvent } from '../../gateway/audit.js';
import type { Gateway } from '../../gateway/gateway.js';
import type { SandboxRuntime } from '../../sandbox/runtime.js';
import { buildRecordedScenario, type RecordSnapshot } from '../../scenario/record.js';
import { scenarioJsonSchema, type ScenarioInput } from '../../scenario/schema.js';
import type { Store } from '../../store/db.js';
import { defaultCustomerDns, type CustomerServices } from '../../test-proxy/customer-services.js';
import type { TestProxy } from '../../test-proxy/proxy.js';
import { defaultPlatformRecords } from '../../world/default-world.js';
import { okJson, type TypedJson } from '../envelope.js';
import { describeRoute, ok, plain, queryParam, responses, tag } from './openapi-operation.js';
import { objectWith, oneOfStrings } from './openapi-schema.js';
import { declaredQuery } from './typed-input.js';

export interface ScenarioRoutesDeps {
  store: Store;
  audit: AuditLog;
  runtime: SandboxRuntime;
  gateway: Gateway;
  interception: () => string;
  proxy?: TestProxy;
  customerServices?: Pick<CustomerServices, 'internalApi' | 'identify'>;
}

/** Most flows a recording turns into steps (the oldest first). */
const maxRecordedFlows = 10_000;

/** What `scenario record` writes: the emulator's state and its flows so far (scenario/record.ts). */
export function recordSnapshot(deps: ScenarioRoutesDeps): RecordSnapshot {
  const { store, audit, runtime, gateway, proxy, customerServices } = deps;
  const sandboxes = store.sandboxes.ids().flatMap((id) => {
    const record = store.sandboxes.get(id);
    if (!record) return [];
    const bindings = store.bindings.forSandbox(id).map((b) => b.binding);
    const network = record.network ? { ...record.network, ...(bindings.length ? { credentialBindings: bindings } : {}) } : undefined;
    return [{ id, template: record.templateId, ...(network ? { network: network as Record<string, unknown> } : {}), hosts: runtime.view(id)?.hosts ?? record.hosts }];
  });
  const credentialSources = store.credentialSources.list(localTeamId).map((m) => ({
    name: m.name,
    resolverKind: m.resolverKind,
    spec: store.credentialSources.spec(localTeamId, m.name, m.currentVersion) ?? {},
  }));
  const flows = audit
    .list({ phase: 'result', limit: maxRecordedFlows })
    .map((r) => r.event)
    .filter((e): e is NetworkAuditEvent => e.event_type === 'network_audit');
  return {
    sandboxes,
    credentialSources,
    platformDns: { current: gateway.platformDns.records(), defaults: defaultPlatformRecords(proxy?.address) },
    ...(proxy ? { testProxyAddress: proxy.address } : {}),
    ...(proxy
      ? {
          proxy: {
            users: proxy.users,
            faults: proxy.faults.list(),
            customerDns: { current: proxy.customerDns, defaults: customerServices ? defaultCustomerDns(customerServices) : {} },
            services: customerServices ? { '@internal-api': customerServices.internalApi.address, '@identify': customerServices.identify.address } : {},
          },
        }
      : {}),
    flows,
    interception: deps.interception(),
  };
}

/** `GET /_emulator/scenario.schema.json` (the scenario file's JSON Schema) and `GET /_emulator/scenario/record`. */
export function scenarioRoutes(deps: ScenarioRoutesDeps) {
  let schema: Record<string, unknown> | undefined;
  return new Hono()
    .get(
      '/scenario.schema.json',
      describeRoute({
        operationId: 'scenarioSchema', tags: [tag.emulator], summary: 'The JSON Schema of scenario files',
        description: 'The schema `scenario run` validates YAML scenario files with (also shipped as fixtures/scenario.schema.json); not wrapped in the success envelope.',
        responses: responses({ '200': plain('a JSON Schema (draft 2020-12)', { type: 'object' }) }),
      }),
      (c) => c.json((schema ??= scenarioJsonSchema())) as TypedJson<Record<string, unknown>>,
    )
    .get(
      '/scenario/record',
      describeRoute({
        operationId: 'recordScenario', tags: [tag.emulator], summary: "This emulator's state and the flows so far, as a scenario",
        description:
          'What `scenario record` writes: sandboxes (policy, hosts), credential sources, DNS records and proxy users/faults that differ from the defaults, and every flow as a step expecting what happened. Secrets are ${secret:NAME} placeholders (equal secrets share a NAME); include_secrets=1 puts the test proxy users\' passwords in clear.',
        parameters: [
          queryParam('name', 'the scenario name'),
          queryParam('include_secrets', "the test proxy users' passwords in clear", oneOfStrings(['1', 'true', '0', 'false'])),
        ],
        responses: responses({ '200': ok('the scenario document', objectWith('scenario', { type: 'object' })) }),
      }),
      declaredQuery<{ name?: string; include_secrets?: string }>(),
      (c) => {
        const name = c.req.query('name') || undefined;
        const includeSecrets = ['1', 'true'].includes(c.req.query('include_secrets') ?? '');
        const scenario: ScenarioInput = buildRecordedScenario(recordSnapshot(deps), { ...(name ? { name } : {}), includeSecrets });
        return okJson(c, { scenario });
      },
    );
}
