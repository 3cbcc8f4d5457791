import { join } from 'node:path';
import { resolveToken } from '../config.js';
import { createCredentialSourceService } from '../control-plane/credential-sources.js';
import { ControlPlaneEvents } from '../control-plane/events.js';
import { createNetworkPolicyService } from '../control-plane/network-policies.js';
import { createSandboxService } from '../control-plane/sandboxes.js';
import { loadTemplates } from '../control-plane/templates.js';
import { createAuditLog } from '../gateway/audit.js';
import { createCredentialResolver } from '../gateway/credentials.js';
import { fixturesDir } from '../paths.js';
import { lockDataDir } from '../store/data-dir-lock.js';
import { openStore } from '../store/db.js';
import type { EmulatorSettings } from './options.js';
import type { StopStack } from './stop-stack.js';

export type ControlPlane = ReturnType<typeof openControlPlane>;

/** The state and the services over it: data dir lock, store, token, events, services, audit, credentials. */
export function openControlPlane({ ephemeral, dataDir, token, env, logger, now }: EmulatorSettings, stops: StopStack) {
  // One emulator per data dir (released last: stops run in reverse).
  const dataDirLock = ephemeral ? undefined : lockDataDir(dataDir!);
  if (dataDirLock) stops.push(() => dataDirLock.release());
  const store = openStore(ephemeral ? { kind: 'memory' } : { kind: 'dir', dataDir: dataDir! });
  stops.push(() => store.close());
  const apiToken = resolveToken({ token, env, dataDir });
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
  return { dataDirLock, store, apiToken, events, services: { sandboxes, network, credentialSources }, audit, credentials };
}
