import { adminData, type AdminClient } from '../api/admin/client.js';
import { createS0Client, type S0Client } from '../cli/s0/api-client.js';
import type { Scenario, ServiceSymbol } from './schema.js';

/**
 * Applies a scenario's setup to an emulator through its APIs: the customer side first (proxy users,
 * customer DNS, faults), then the platform side (platform DNS, credential sources, sandboxes with
 * their hosts entries and network policy). Sandboxes are claimed fresh; steps refer to them by name.
 */

export interface ScenarioContext {
  apiUrl: string;
  admin: AdminClient;
  s0: S0Client;
  interception: string;
  testProxyAddress?: string;
  /** Scenario sandbox name → sandbox id. */
  sandboxes: Map<string, string>;
  /** Attached to a running emulator (not started for this run). */
  attached: boolean;
  /** What the run changed on an attached emulator, undone afterwards. */
  undo: (() => Promise<unknown>)[];
}

export function scenarioContext(apiUrl: string, token: string, admin: AdminClient, interception: string, attached: boolean, testProxyAddress?: string): ScenarioContext {
  return { apiUrl, attached, admin, s0: createS0Client({ apiUrl, token }), interception, testProxyAddress, sandboxes: new Map(), undo: [] };
}

/** A refused setup call, named after the part of the file it came from. */
export class ScenarioSetupError extends Error {
  override readonly name = 'ScenarioSetupError';
}

async function part<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new ScenarioSetupError(`${what}: ${(err as Error).message}`);
  }
}

/** The default customer view's entries for the fixture services (their ports change from run to run). */
export const serviceKeys: Record<Exclude<ServiceSymbol, '@test-proxy'>, string> = {
  '@internal-api': 'api.internal.example.com:443',
  '@identify': 'identify.internal.example.com:80',
};

export async function applyScenario(ctx: ScenarioContext, scenario: Scenario, { attached }: { attached: boolean }): Promise<void> {
  const { admin, s0 } = ctx;
  const customer = scenario.customer;
  if (customer?.proxy?.users) {
    const users = customer.proxy.users;
    await part('customer.proxy.users', () => adminData(admin.proxy.users.$put({ json: { users } })));
  }
  if (customer?.dns) {
    const before = await part('customer.dns', () => adminData(admin.dns.customer.$get()));
    const services = Object.fromEntries(Object.entries(serviceKeys).map(([symbol, key]) => [symbol, before.records[key]]));
    const records = { ...before.records };
    for (const [key, value] of Object.entries(customer.dns)) {
      const mapped = value.startsWith('@') ? services[value] : value;
      if (!mapped) throw new ScenarioSetupError(`customer.dns.${key}: ${value} is not known (known: ${Object.keys(serviceKeys).join(', ')})`);
      records[key] = mapped;
    }
    await part('customer.dns', () => adminData(admin.dns.customer.$put({ json: { records } })));
    if (attached) ctx.undo.push(() => adminData(admin.dns.customer.$put({ json: { records: before.records } })));
  }
  for (const [i, fault] of (customer?.proxy?.faults ?? []).entries()) {
    const added = await part(`customer.proxy.faults.${i}`, () => adminData(admin.proxy.faults.$post({ json: fault })));
    if (attached) ctx.undo.push(() => adminData(admin.proxy.faults[':name'].$delete({ param: { name: added.name } })));
  }

  const platform = scenario.platform;
  if (platform?.dns) await setPlatformRecords(ctx, platform.dns, attached, 'platform.dns');
  for (const source of platform?.credentialSources ?? []) {
    await part(`platform.credentialSources "${source.name}"`, async () => {
      try {
        await s0.createCredentialSource(source);
      } catch (err) {
        // Attached to an emulator that has it already: the file's spec becomes its current version.
        if (!attached || !/already exists/.test((err as Error).message)) throw err;
        await s0.updateCredentialSource(source.name, source);
      }
    });
  }
  for (const sandbox of platform?.sandboxes ?? []) {
    const claimed = await part(`platform.sandboxes "${sandbox.name}"`, () => s0.claimSandbox({ template: sandbox.template }));
    const id = String(claimed.sandbox_id ?? claimed.id);
    ctx.sandboxes.set(sandbox.name, id);
    if (attached) ctx.undo.push(() => s0.deleteSandbox(id));
    if (sandbox.hosts) {
      const hosts = sandbox.hosts;
      await part(`platform.sandboxes "${sandbox.name}" hosts`, () => adminData(admin.sandboxes[':id'].hosts.$put({ param: { id }, json: { hosts } })));
    }
    if (sandbox.network) {
      const network = sandbox.network;
      await part(`platform.sandboxes "${sandbox.name}" network`, () => s0.updateNetworkPolicy(id, network));
    }
  }
}

/** Sets platform DNS records on top of the current view (`@test-proxy` is the test proxy's address). */
export async function setPlatformRecords(ctx: ScenarioContext, set: Record<string, string[]>, attached: boolean, what: string): Promise<void> {
  const { admin } = ctx;
  const before = await part(what, () => adminData(admin.dns.platform.$get()));
  const records = { ...before.records };
  for (const [key, values] of Object.entries(set)) {
    records[key] = values.map((v) => {
      if (v !== '@test-proxy') return v;
      if (!ctx.testProxyAddress) throw new ScenarioSetupError(`${what}.${key}: @test-proxy: the emulator runs no test proxy`);
      return ctx.testProxyAddress;
    });
  }
  await part(what, () => adminData(admin.dns.platform.$put({ json: { records } })));
  if (attached) ctx.undo.push(() => adminData(admin.dns.platform.$put({ json: { records: before.records } })));
}
