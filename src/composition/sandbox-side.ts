import type { ControlPlaneEvents } from '../control-plane/events.js';
import type { AuditLog } from '../gateway/audit.js';
import type { Gateway } from '../gateway/gateway.js';
import type { Logger } from '../log.js';
import { createContextService, type ContextService } from '../sandbox/contexts.js';
import { createSandboxRuntime, type SandboxRuntime } from '../sandbox/runtime.js';
import type { Store } from '../store/db.js';
import { fixtureCaCertPath } from '../test-proxy/customer-services.js';
import type { Interception } from './start-interception.js';
import type { StopStack } from './stop-stack.js';

export interface SandboxSideDeps {
  store: Store;
  events: ControlPlaneEvents;
  gateway: Gateway;
  audit: AuditLog;
  logger: Logger;
  interception: Interception;
  /** True when the customer services run (their fixture CA is then given to sandboxes). */
  fixtureCa: boolean;
  now: () => Date;
}

/**
 * The sandbox runtime (interception per sandbox) and the exec contexts on it, following the control
 * plane's claims and deletions; sandboxes already in the store get their interception back.
 */
export async function startSandboxSide(deps: SandboxSideDeps, stops: StopStack): Promise<{ runtime: SandboxRuntime; contexts: ContextService }> {
  const { store, events, gateway, audit, logger, interception, fixtureCa, now } = deps;
  // Transparent sandboxes read the fixture CA from their own copy (sandbox-confinement.ts).
  const caCertPath = fixtureCa ? (interception.sandboxCa ?? fixtureCaCertPath) : undefined;
  const runtime = createSandboxRuntime({ store, gateway, audit, logger, platformDns: () => gateway.platformDns, backend: interception.backend, caCertPath, now });
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
  return { runtime, contexts };
}
