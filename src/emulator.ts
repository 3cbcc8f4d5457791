import { createAdaptorServer } from '@hono/node-server';
import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import type { Hono } from 'hono';
import { adminApp } from './api/admin/admin-app.js';
import { adminClient, type AdminClient } from './api/admin/client.js';
import type { ComponentState, EmulatorInfo } from './api/admin/emulator-routes.js';
import { createApp } from './api/app.js';
import { warmDecoders } from './api/decoders.js';
import { observabilityRoutes } from './api/routes/observability.js';
import { contextRoutes } from './api/routes/contexts.js';
import { createContextService, type ContextService } from './sandbox/contexts.js';
import { EmulatorError } from './errors.js';
import { defaultHost, exposedTokenProblem, isLoopbackHost, resolveToken } from './config.js';
import { allowedHostNames } from './api/host-header.js';
import { createCredentialSourceService, type CredentialSourceService } from './control-plane/credential-sources.js';
import { ControlPlaneEvents } from './control-plane/events.js';
import { createNetworkPolicyService, type NetworkPolicyService } from './control-plane/network-policies.js';
import { createSandboxService, type SandboxService } from './control-plane/sandboxes.js';
import { createTenantRegistry, withTeam, type Tenant } from './control-plane/team-context.js';
import { loadTemplates } from './control-plane/templates.js';
import { createAuditLog, type AuditLog, type NetworkAuditEvent } from './gateway/audit.js';
import { createCredentialResolver, type CredentialResolver } from './gateway/credentials.js';
import type { ProxyEndpointPolicy } from './gateway/dial.js';
import type { HostLookup } from './dns/passthrough.js';
import type { DirectEgress, GatewayTimeouts } from './gateway/flow.js';
import { createGateway, type Gateway } from './gateway/gateway.js';
import { silentLogger, type Logger } from './log.js';
import { fixturesDir, packageVersion } from './paths.js';
import { createSandboxRuntime, type ConnectTarget, type DatagramResult, type DatagramTarget, type SandboxRuntime, type SandboxView } from './sandbox/runtime.js';
import { openStore, type Store } from './store/db.js';
import { asPortInUse, assertPortFree } from './net/port-check.js';
import { lockDataDir } from './store/data-dir-lock.js';
import type { NamespaceBackend } from './interception/namespace-backend.js';
import type { SandboxUser } from './interception/transparent/sandbox-confinement.js';
import { defaultCustomerDns, fixtureCaCertPath, startCustomerServices, type CustomerServices } from './test-proxy/customer-services.js';
import { createTestProxy, defaultTestProxyUsers, type TestProxy, type TestProxyUser } from './test-proxy/proxy.js';
import { defaultPlatformRecords, loadWorldFixture } from './world/default-world.js';

export interface EmulatorOptions {
  /**
   * API listen address; loopback unless told otherwise. Beyond loopback the token must be given
   * (option or `SEE_TOKEN`) and must not be a published one (`exposedTokenProblem`).
   */
  host?: string;
  /** Host header names the API accepts besides localhost, loopback and the listen address (DNS rebinding protection). */
  allowedHosts?: readonly string[];
  /** API port; 0 picks a free one. */
  port?: number;
  /** Keep state in memory only (the library default). */
  ephemeral?: boolean;
  /** Where state, the secrets key and the generated token live when not ephemeral. */
  dataDir?: string;
  /** API token; else `SEE_TOKEN`, else generated (and kept in the data dir). `SANDBOX0_TOKEN` is never adopted. */
  token?: string;
  /** The embedded SOCKS5 test proxy and the customer services behind it; `false` runs neither. */
  testProxy?: false | { port?: number; users?: readonly TestProxyUser[] };
  /** `allow-loopback` (default) or `platform` (the platform's protected-address rejection). */
  proxyEndpoints?: ProxyEndpointPolicy;
  /** Direct (unproxied) egress: `loopback-only` (default) or `real`. */
  directEgress?: DirectEgress;
  /** UDP with a proxy configured: `reject` (default, audited) or `direct` (as the platform's code). */
  udpEgress?: 'reject' | 'direct';
  /**
   * The platform DNS view. `passthrough` (default false): a name without a record is resolved with the
   * host's resolver (`lookup`, default `node:dns` lookup; bounded by `timeoutMs`, default 2000; answers,
   * negative ones too, kept `cacheTtlMs`, default 30000) — for the SOCKS5 proxy endpoint's hostname and
   * for names sandboxes resolve. Explicit records always win.
   */
  platformDns?: { passthrough?: boolean; lookup?: HostLookup; timeoutMs?: number; cacheTtlMs?: number };
  gatewayTimeouts?: Partial<GatewayTimeouts>;
  /**
   * How sandbox traffic reaches the gateway: `explicit` (the library default: loopback SOCKS5 / HTTP
   * CONNECT ingress ports, no privileges), `transparent` (network namespaces; needs root or
   * CAP_NET_ADMIN) or `auto` (transparent when possible, the CLI default).
   */
  interception?: 'auto' | 'transparent' | 'explicit';
  /**
   * Which transparent backend: `root` (network namespaces; root or CAP_NET_ADMIN), `rootless` (the
   * same inside a user namespace of this user's own) or `auto` (root when possible, else rootless).
   */
  transparentBackend?: 'auto' | 'root' | 'rootless';
  /**
   * Who transparent sandboxes' commands run as (default uid 65534 without capabilities; the rootless
   * backend can only run them as this user, uid 0 inside its namespace, without capabilities).
   */
  sandboxUser?: SandboxUser;
  /** More host paths to hide from transparent sandboxes (the data dir and the state dir always are). */
  sandboxMaskPaths?: string[];
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  now?: () => Date;
}

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

export interface Emulator {
  readonly apiUrl: string;
  readonly port: number;
  readonly token: string;
  readonly store: Store;
  readonly events: ControlPlaneEvents;
  readonly services: { sandboxes: SandboxService; network: NetworkPolicyService; credentialSources: CredentialSourceService };
  readonly audit: AuditLog;
  readonly credentials: CredentialResolver;
  readonly gateway: Gateway;
  readonly runtime: SandboxRuntime;
  readonly contexts: ContextService;
  /** The embedded test proxy, unless disabled. */
  readonly proxy: TestProxy | undefined;
  readonly customerServices: CustomerServices | undefined;
  /** Typed client of this emulator's admin API (`/_emulator/...`), with its token. */
  readonly admin: AdminClient;
  /** The HTTP app (hono): its `routes` list every path the API serves. */
  readonly app: { routes: readonly { method: string; path: string }[] };
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

/** The composition root: starts every piece, and `stop()` stops every piece it started. */
export async function startEmulator({
  host = defaultHost,
  allowedHosts = [],
  port = 0,
  ephemeral = true,
  dataDir,
  token,
  testProxy: testProxyOptions = {},
  proxyEndpoints,
  directEgress,
  udpEgress,
  platformDns: { passthrough = false, ...passthroughOptions } = {},
  gatewayTimeouts,
  interception = 'explicit',
  transparentBackend = 'auto',
  sandboxUser,
  sandboxMaskPaths = [],
  env = process.env,
  logger = silentLogger(),
  now = () => new Date(),
}: EmulatorOptions = {}): Promise<Emulator> {
  if (!ephemeral && !dataDir) throw new Error('startEmulator: dataDir is required unless ephemeral');
  // A taken port fails here, before a namespace, a data dir or a test proxy exists.
  await assertPortFree(host, port);
  const exposed = exposedTokenProblem({ host, token, env });
  if (exposed) throw new EmulatorError('exposed_token', exposed);
  const stops: (() => Promise<void> | void)[] = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) {
      try {
        await stop();
      } catch (err) {
        logger.warn({ err: { message: (err as Error).message } }, 'error while stopping a component');
      }
    }
  };

  try {
    // One emulator per data dir (released last: stops run in reverse).
    const dataDirLock = ephemeral ? undefined : lockDataDir(dataDir!);
    if (dataDirLock) stops.push(() => dataDirLock.release());
    const store = openStore(ephemeral ? { kind: 'memory' } : { kind: 'dir', dataDir: dataDir! });
    stops.push(() => store.close());
    const apiToken = resolveToken({ token, env, dataDir: ephemeral ? undefined : dataDir });
    const events = new ControlPlaneEvents();
    stops.push(() => void events.removeAllListeners());
    const templates = loadTemplates(join(fixturesDir, 'templates'));
    const sandboxes = createSandboxService({ store, events, templates, now });
    const network = createNetworkPolicyService({ store, events, sandboxes, now });
    const credentialSources = createCredentialSourceService({ store, events, now });
    const audit = createAuditLog({ store, now, logger });
    // Flows still winding down at stop have their last events stored before the store closes.
    stops.push(() => audit.flush());
    const credentials = createCredentialResolver({ store, events });
    stops.push(() => credentials.close());

    // The customer side: services behind the proxy, and the proxy itself.
    let customerServices: CustomerServices | undefined;
    let proxy: TestProxy | undefined;
    if (testProxyOptions !== false) {
      customerServices = await startCustomerServices({ logger });
      stops.push(() => customerServices!.stop());
      proxy = await createTestProxy({
        port: testProxyOptions.port ?? 0,
        users: testProxyOptions.users ?? defaultTestProxyUsers,
        customerDns: defaultCustomerDns(customerServices),
        directIps: 'loopback',
        logger,
      });
      stops.push(() => proxy!.stop());
    }
    const platformRecords = () => defaultPlatformRecords(proxy?.address);

    const gateway = createGateway({
      events,
      network,
      audit,
      credentials,
      logger: logger.child({ component: 'gateway' }),
      platformSettings: loadWorldFixture().platform,
      platformRecords: platformRecords(),
      proxyEndpoints,
      directEgress,
      udpEgress,
      platformDnsPassthrough: passthrough ? passthroughOptions : undefined,
      timeouts: gatewayTimeouts,
    });
    stops.push(() => gateway.close());

    // Interception: transparent when asked for (or possible, with auto), else explicit.
    let backend: NamespaceBackend | undefined;
    let interceptionInfo: EmulatorInfo['interception'] = {
      mode: 'explicit',
      reason: 'explicit interception was requested: each sandbox gets loopback SOCKS5 and HTTP CONNECT ingress ports (GET /_emulator/sandboxes/{id}); only programs that honour proxy settings are captured',
    };
    let lookup: (sandboxId: string, name: string) => string[] | undefined | Promise<string[] | undefined> = () => undefined;
    let sandboxCa: string | undefined;
    if (interception !== 'explicit') {
      const t = await import('./interception/transparent/index.js');
      // Root is preferred; rootless when root is not available (or asked for).
      const root = transparentBackend === 'rootless' ? undefined : await t.detectRootBackend();
      const rootless = root?.ok || transparentBackend === 'root' ? undefined : await t.detectRootlessBackend();
      const chosen = root?.ok ? 'root' : rootless?.ok ? 'rootless' : undefined;
      if (chosen) {
        // The sandbox resolver's answers feed the gateway's DNS snoop cache (names SSH flows).
        const onAnswer = (id: string, name: string, addresses: string[], ttlSeconds: number) => {
          for (const address of addresses) gateway.dnsSnoop.record(id, address, name, ttlSeconds);
        };
        const confinement = {
          ...(sandboxUser ? { user: sandboxUser } : {}),
          maskPaths: [...(ephemeral ? [] : [dataDir!]), ...sandboxMaskPaths],
          caCertPath: customerServices ? fixtureCaCertPath : undefined,
        };
        const options = { dns: { lookup: (id: string, name: string) => lookup(id, name), onAnswer }, logger, confinement };
        const started = chosen === 'root' ? t.createRootNamespaceBackend(options) : t.createRootlessNamespaceBackend(options);
        stops.push(() => started.stop());
        await started.start();
        backend = started;
        sandboxCa = t.sandboxCaPath(started.confinement);
        const limitations = chosen === 'rootless' ? t.rootlessLimitations(started.confinement.user) : [];
        interceptionInfo = {
          mode: 'transparent',
          reason:
            chosen === 'root'
              ? 'network namespaces per sandbox; nftables in the gateway namespace redirect all TCP and UDP to the gateway (root netns backend)'
              : `network namespaces per sandbox inside a user namespace of this user (rootless backend${root && !root.ok ? `; root backend not available: ${root.reason}` : ''}); nftables in the gateway namespace redirect all TCP and UDP to the gateway`,
          backend: started.kind,
          sandboxUser: t.describeSandboxUser(started.confinement.user),
          limitations,
        };
      } else {
        const reasons = [root && !root.ok ? `root backend: ${root.reason}; fix: ${root.fix}` : undefined, rootless && !rootless.ok ? `rootless backend: ${rootless.reason}; fix: ${rootless.fix}` : undefined].filter(Boolean).join('; ');
        if (interception === 'transparent') throw new Error(`transparent interception is not available (${reasons})`);
        interceptionInfo = { mode: 'explicit', reason: `transparent interception is not available (${reasons}); using explicit ingress ports, which only capture programs that honour proxy settings` };
      }
    }
    // Transparent sandboxes read the fixture CA from their own copy (sandbox-confinement.ts).
    const runtime = createSandboxRuntime({ store, gateway, audit, logger, platformDns: () => gateway.platformDns, backend, caCertPath: customerServices ? (sandboxCa ?? fixtureCaCertPath) : undefined, now });
    lookup = runtime.resolverAnswer;
    const contexts = createContextService({ runtime, now });
    stops.push(() => contexts.killAll());
    stops.push(() => runtime.stop());
    // Claims through the API wait for the runtime (see afterClaim); claims made directly through the
    // service (library users, tests) start it in the background.
    const onClaim = (id: string) => void runtime.attach(id).catch((err: Error) => logger.error({ sandboxId: id, err: { message: err.message } }, 'sandbox interception failed to start'));
    const onDelete = (id: string) => void contexts.killAll(id).then(() => runtime.detach(id));
    events.on('sandbox-claimed', onClaim);
    events.on('sandbox-deleted', onDelete);
    await Promise.all(store.sandboxes.ids().map((id) => runtime.attach(id)));

    let apiUrl = '';
    let boundPort = 0;
    const info = (): EmulatorInfo => ({
      version: packageVersion,
      apiUrl,
      ports: { api: boundPort, ...(proxy ? { testProxy: proxy.port } : {}) },
      token: apiToken,
      interception: interceptionInfo,
      platformDns: { passthrough },
      ...(proxy ? { testProxy: { address: proxy.address, users: proxy.users.map((u) => ({ username: u.username })) } } : {}),
      ...(customerServices ? { fixtureCaPath: fixtureCaCertPath } : {}),
      dataDir: ephemeral ? null : dataDir!,
      ephemeral,
    });
    const health = (): Record<string, ComponentState> => {
      const sandboxSide = runtime.healthy();
      return {
        api: 'up',
        store: store.healthy() ? 'up' : 'down',
        gateway: sandboxSide.gateway ? 'up' : 'down',
        testProxy: proxy ? (proxy.healthy() ? 'up' : 'down') : 'disabled',
        dns: sandboxSide.dns ? 'up' : 'down',
      };
    };
    const reset = async () => {
      await contexts.killAll();
      const ids = store.sandboxes.ids();
      await Promise.all(ids.map((id) => runtime.detach(id)));
      audit.flush(); // events of flows before the reset are cleared with them
      try {
        store.clear();
      } catch (err) {
        // Nothing was deleted (disk full, database locked): the sandboxes are still there, so they get
        // their interception back instead of staying unreachable until a restart.
        await Promise.all(ids.map((id) => runtime.attach(id).catch((e: Error) => logger.error({ sandboxId: id, err: { message: e.message } }, 'sandbox interception failed to restart after a failed reset'))));
        throw err;
      }
      gateway.platformDns.replace(platformRecords());
      proxy?.reset();
      events.emit('reset');
    };

    const tenants = createTenantRegistry();
    const resetTeam = async (teamId: string) => {
      const ids = store.sandboxes.ids().filter((id) => store.sandboxes.get(id)?.teamId === teamId);
      await Promise.all(ids.map((id) => contexts.killAll(id)));
      await Promise.all(ids.map((id) => runtime.detach(id)));
      audit.flush();
      store.clearTeam(teamId);
    };


    const allowedHostNameSet = allowedHostNames(host, allowedHosts);
    const apiRoutes: Hono[] = [observabilityRoutes({ store, audit, sandboxes }), contextRoutes({ sandboxes, contexts })];
    const app = createApp({
      token: () => apiToken,
      tenantTeam: (t) => tenants.teamOf(t),
      logger,
      databaseHealthy: () => store.healthy(),
      allowedHosts: () => allowedHostNameSet,
      sandboxes,
      network,
      appliedPolicy: (id) => gateway.policies.get(id),
      credentialSources,
      afterClaim: (id) => runtime.attach(id),
      admin: adminApp({ info, health, reset, resetTeam: (team) => withTeam(team, () => resetTeam(team)), tenants, store, audit, sandboxes, runtime, gateway, proxy, customerServices }),
      apiRoutes,
    });

    const server = createAdaptorServer({ fetch: app.fetch }) as Server;
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(asPortInUse(err, host, port));
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    stops.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    );
    boundPort = (server.address() as AddressInfo).port;
    // The emulator's own ports: sandboxes reach them only when a policy names them (policy/host-local.ts).
    gateway.host.emulatorPorts.add(boundPort);
    if (proxy) gateway.host.emulatorPorts.add(proxy.port);
    apiUrl = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
    dataDirLock?.setApiUrl(apiUrl);
    logger.info({ apiUrl, testProxy: proxy?.address }, 'emulator listening');
    if (!isLoopbackHost(host)) {
      logger.warn({ host, apiUrl }, 'the API listens beyond loopback: anyone who can reach it and knows the token controls the emulator');
    }
    setImmediate(warmDecoders);

    let stopping: Promise<void> | undefined;
    return {
      apiUrl,
      port: boundPort,
      token: apiToken,
      store,
      events,
      services: { sandboxes, network, credentialSources },
      audit,
      credentials,
      gateway,
      runtime,
      contexts,
      proxy,
      customerServices,
      app,
      admin: adminClient(apiUrl, apiToken),
      sandbox: (id) => ({
        id,
        connect: (target) => runtime.connect(id, target),
        sendDatagram: (datagram) => runtime.sendDatagram(id, datagram),
        view: () => runtime.view(id),
        setHosts: (hosts) => runtime.setHosts(id, hosts),
      }),
      flows: ({ sandboxId, limit = 10_000 } = {}) => audit.list({ sandboxId, limit }).map((r) => r.event),
      info,
      tenant: () => ({ ...tenants.create(), apiUrl }),
      reset,
      stop: () =>
        (stopping ??= (async () => {
          await stopAll();
          logger.info('emulator stopped');
        })()),
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
