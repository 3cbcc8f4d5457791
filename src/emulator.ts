import type { Socket } from 'node:net';
import { adminClient, type AdminClient } from './api/admin/client.js';
import type { EmulatorInfo } from './api/admin/emulator-routes.js';
import { warmDecoders } from './api/decoders.js';
import { createApiApp, listenApi } from './composition/api-server.js';
import { openControlPlane } from './composition/control-plane.js';
import { startCustomerSide } from './composition/customer-side.js';
import { startGateway } from './composition/gateway.js';
import { emulatorHealth, emulatorInfo, type ApiEndpoint } from './composition/info.js';
import { registerInternals } from './composition/internals.js';
import { resolveOptions, type EmulatorOptions } from './composition/options.js';
import { createReset } from './composition/reset.js';
import { startSandboxSide } from './composition/sandbox-side.js';
import { startInterception } from './composition/start-interception.js';
import { StopStack } from './composition/stop-stack.js';
import { exposedTokenProblem, isLoopbackHost } from './config.js';
import { createTenantRegistry, type Tenant } from './control-plane/team-context.js';
import { EmulatorError } from './errors.js';
import type { NetworkAuditEvent } from './gateway/audit.js';
import { assertPortFree } from './net/port-check.js';
import type { ConnectTarget, DatagramResult, DatagramTarget, SandboxRuntime, SandboxView } from './sandbox/runtime.js';
import type { TestProxy } from './test-proxy/proxy.js';
import { defaultPlatformRecords } from './world/default-world.js';

export type { EmulatorOptions };

export interface EmulatorSandbox {
  readonly id: string;
  /** Opens a TCP flow from this sandbox through the gateway (in-process interception). */
  connect(target: ConnectTarget): Promise<Socket>;
  /**
   * Sends one UDP datagram from this sandbox through the gateway (in-process interception), as a
   * datagram arriving by UDP ASSOCIATE or transparent interception would be: resolved, classified,
   * decided, rejected / denied / sent, and audited. Resolves with the outcome (and the first reply,
   * for a datagram that was sent), never waiting for a reply to one that was not.
   */
  sendDatagram(datagram: DatagramTarget): Promise<DatagramResult>;
  view(): SandboxView | undefined;
  setHosts(hosts: Record<string, string[]>): void;
}

/**
 * A running emulator, as the library promises it (PRODUCT.md "Library"). Its pieces (store, gateway,
 * runtime, …) are not part of this surface; the package's own tests reach them through `internals.ts`.
 */
export interface Emulator {
  readonly apiUrl: string;
  readonly port: number;
  readonly token: string;
  /** The embedded test proxy, unless disabled. */
  readonly proxy: TestProxy | undefined;
  /** Typed client of this emulator's admin API (`/_emulator/...`), with its token. */
  readonly admin: AdminClient;
  sandbox(id: string): EmulatorSandbox;
  /** Audit events of every sandbox, oldest first. */
  flows(filter?: { sandboxId?: string; limit?: number }): NetworkAuditEvent[];
  info(): EmulatorInfo;
  /**
   * A tenant: a team of its own on this emulator, with its own token. Through the API (the SDK, the
   * CLI, `adminClient`) a tenant's token sees only its own sandboxes, credential sources and flows, so
   * test files running in parallel share one emulator without a reset; the test proxy, DNS views and
   * faults are shared. `POST /_emulator/tenants` does the same over HTTP.
   */
  tenant(): Tenant & { apiUrl: string };
  /** Back to a clean state: no sandboxes, sources or flows, default DNS views and proxy; token and ports kept. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

const sandboxHandle = (runtime: SandboxRuntime, id: string): EmulatorSandbox => ({
  id,
  connect: (target) => runtime.connect(id, target),
  sendDatagram: (datagram) => runtime.sendDatagram(id, datagram),
  view: () => runtime.view(id),
  setHosts: (hosts) => runtime.setHosts(id, hosts),
});

/** The composition root: starts every piece (src/composition/), and `stop()` stops every piece it started. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const settings = resolveOptions(options);
  const { host, logger, now } = settings;
  // A taken port fails here, before a namespace, a data dir or a test proxy exists.
  await assertPortFree(host, settings.port);
  const exposed = exposedTokenProblem({ host, token: settings.token, env: settings.env });
  if (exposed) throw new EmulatorError('exposed_token', exposed);
  const stops = new StopStack(logger);
  try {
    const { dataDirLock, store, apiToken: token, events, services, audit, credentials } = openControlPlane(settings, stops);
    const { customerServices, proxy } = await startCustomerSide(settings, stops);
    const fixtureCa = customerServices !== undefined;
    const platformRecords = () => defaultPlatformRecords(proxy?.address);
    const gateway = startGateway({ events, network: services.network, audit, credentials, platformRecords: platformRecords() }, settings, stops);
    // The transparent resolver answers as the runtime does; the runtime needs the backend first.
    let resolver: SandboxRuntime | undefined;
    const resolverAnswer = (id: string, name: string) => resolver?.resolverAnswer(id, name);
    const interception = await startInterception(settings, { gateway, logger, fixtureCa, resolverAnswer }, stops);
    const { runtime, contexts } = await startSandboxSide({ store, events, gateway, audit, logger, interception, fixtureCa, now }, stops);
    resolver = runtime;

    const endpoint: ApiEndpoint = { apiUrl: '', port: 0 };
    const info = () => emulatorInfo({ settings, endpoint, token, interception: interception.info, proxy, fixtureCa });
    const health = () => emulatorHealth({ store, runtime, proxy });
    const { reset, resetTeam } = createReset({ store, events, audit, gateway, runtime, contexts, proxy, platformRecords, logger });
    const tenants = createTenantRegistry();
    const apiDeps = { token, tenants, info, health, reset, resetTeam, store, audit, services, contexts, runtime, gateway, proxy, customerServices, logger };
    const app = createApiApp(apiDeps, settings);
    await listenApi(app, settings, endpoint, stops);
    const { apiUrl } = endpoint;
    // The emulator's own ports: sandboxes reach them only when a policy names them (policy/host-local.ts).
    gateway.host.emulatorPorts.add(endpoint.port);
    if (proxy) gateway.host.emulatorPorts.add(proxy.port);
    dataDirLock?.setApiUrl(apiUrl);
    logger.info({ apiUrl, testProxy: proxy?.address }, 'emulator listening');
    if (!isLoopbackHost(host)) {
      logger.warn({ host, apiUrl }, 'the API listens beyond loopback: anyone who can reach it and knows the token controls the emulator');
    }
    setImmediate(warmDecoders);

    let stopping: Promise<void> | undefined;
    const emulator: Emulator = {
      apiUrl,
      port: endpoint.port,
      token,
      proxy,
      admin: adminClient(apiUrl, token),
      sandbox: (id) => sandboxHandle(runtime, id),
      flows: ({ sandboxId, limit = 10_000 } = {}) => audit.list({ sandboxId, limit }).map((r) => r.event),
      info,
      tenant: () => ({ ...tenants.create(), apiUrl }),
      reset,
      stop: () =>
        (stopping ??= (async () => {
          await stops.stopAll();
          logger.info('emulator stopped');
        })()),
    };
    registerInternals(emulator, { store, events, services, audit, credentials, gateway, runtime, contexts, customerServices, app });
    return emulator;
  } catch (err) {
    await stops.stopAll();
    throw err;
  }
}
