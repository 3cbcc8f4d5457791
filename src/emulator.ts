import { createAdaptorServer } from '@hono/node-server';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Hono } from 'hono';
import { createApp } from './api/app.js';
import { warmDecoders } from './api/decoders.js';
import type { ComponentState, EmulatorInfo } from './api/admin/emulator-routes.js';
import { defaultHost, resolveToken } from './config.js';
import { createCredentialSourceService, type CredentialSourceService } from './control-plane/credential-sources.js';
import { ControlPlaneEvents } from './control-plane/events.js';
import { createNetworkPolicyService, type NetworkPolicyService } from './control-plane/network-policies.js';
import { createSandboxService, type SandboxService } from './control-plane/sandboxes.js';
import { loadTemplates } from './control-plane/templates.js';
import { createAuditLog, type AuditLog } from './gateway/audit.js';
import { createCredentialResolver, type CredentialResolver } from './gateway/credentials.js';
import { flowsRoutes } from './api/admin/flows-routes.js';
import { observabilityRoutes } from './api/routes/observability.js';
import { silentLogger, type Logger } from './log.js';
import { fixturesDir, packageVersion } from './paths.js';
import { openStore, type Store } from './store/db.js';

export interface EmulatorOptions {
  /** API listen address; loopback unless told otherwise. */
  host?: string;
  /** API port; 0 picks a free one. */
  port?: number;
  /** Keep state in memory only (the library default). */
  ephemeral?: boolean;
  /** Where state, the secrets key and the generated token live when not ephemeral. */
  dataDir?: string;
  /** API token; else `SANDBOX0_TOKEN`, else generated (and kept in the data dir). */
  token?: string;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  now?: () => Date;
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
  info(): EmulatorInfo;
  /** Back to a clean state: no sandboxes, sources or flows; token and ports kept. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** The composition root: starts every piece, and `stop()` stops every piece it started. */
export async function startEmulator({
  host = defaultHost,
  port = 0,
  ephemeral = true,
  dataDir,
  token,
  env = process.env,
  logger = silentLogger(),
  now = () => new Date(),
}: EmulatorOptions = {}): Promise<Emulator> {
  if (!ephemeral && !dataDir) throw new Error('startEmulator: dataDir is required unless ephemeral');
  const store = openStore(ephemeral ? { kind: 'memory' } : { kind: 'dir', dataDir: dataDir! });
  const apiToken = resolveToken({ token, env, dataDir: ephemeral ? undefined : dataDir });
  const events = new ControlPlaneEvents();
  const templates = loadTemplates(join(fixturesDir, 'templates'));
  const sandboxes = createSandboxService({ store, events, templates, now });
  const network = createNetworkPolicyService({ store, events, sandboxes, now });
  const credentialSources = createCredentialSourceService({ store, events, now });
  const audit = createAuditLog({ store, now });
  const credentials = createCredentialResolver({ store, events });

  let apiUrl = '';
  let boundPort = 0;
  const info = (): EmulatorInfo => ({
    version: packageVersion,
    apiUrl,
    ports: { api: boundPort },
    token: apiToken,
    interception: { mode: 'in-process', reason: 'the gateway is not started by this version yet' },
    dataDir: ephemeral ? null : dataDir!,
    ephemeral,
  });
  const health = (): Record<string, ComponentState> => ({ api: 'up', store: store.healthy() ? 'up' : 'down' });
  const reset = async () => {
    store.clear();
    events.emit('reset');
  };

  const adminRoutes: Hono[] = [flowsRoutes({ store, audit })];
  const apiRoutes: Hono[] = [observabilityRoutes({ store, audit, sandboxes })];
  const app = createApp({
    token: () => apiToken,
    logger,
    databaseHealthy: () => store.healthy(),
    sandboxes,
    network,
    credentialSources,
    info,
    health,
    reset,
    adminRoutes,
    apiRoutes,
  });

  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  server.keepAliveTimeout = 5_000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    store.close();
    throw err;
  }
  boundPort = (server.address() as AddressInfo).port;
  apiUrl = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
  logger.info({ apiUrl }, 'emulator API listening');
  setImmediate(warmDecoders);

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      credentials.close();
      store.close();
      events.removeAllListeners();
      logger.info('emulator stopped');
    })());

  return {
    get apiUrl() {
      return apiUrl;
    },
    port: boundPort,
    token: apiToken,
    store,
    events,
    services: { sandboxes, network, credentialSources },
    audit,
    credentials,
    info,
    reset,
    stop,
  };
}
