import type { ControlPlaneEvents } from '../control-plane/events.js';
import type { PlatformRecords } from '../dns/views.js';
import type { AuditLog } from '../gateway/audit.js';
import type { Gateway } from '../gateway/gateway.js';
import type { Logger } from '../log.js';
import type { ContextService } from '../sandbox/contexts.js';
import type { SandboxRuntime } from '../sandbox/runtime.js';
import type { Store } from '../store/db.js';
import type { TestProxy } from '../test-proxy/proxy.js';

export interface ResetDeps {
  store: Store;
  events: ControlPlaneEvents;
  audit: AuditLog;
  gateway: Gateway;
  runtime: SandboxRuntime;
  contexts: ContextService;
  proxy: TestProxy | undefined;
  /** The platform DNS view a reset goes back to. */
  platformRecords: () => PlatformRecords;
  logger: Logger;
}

/**
 * `reset()`: back to a clean state (no sandboxes, sources or flows, default DNS views and proxy; token
 * and ports kept). `resetTeam(teamId)`: a tenant's reset, only that team's sandboxes, sources and flows.
 */
export function createReset(deps: ResetDeps): { reset: () => Promise<void>; resetTeam: (teamId: string) => Promise<void> } {
  const { store, events, audit, gateway, runtime, contexts, proxy, platformRecords, logger } = deps;
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
  const resetTeam = async (teamId: string) => {
    const ids = store.sandboxes.ids().filter((id) => store.sandboxes.get(id)?.teamId === teamId);
    await Promise.all(ids.map((id) => contexts.killAll(id)));
    await Promise.all(ids.map((id) => runtime.detach(id)));
    audit.flush();
    store.clearTeam(teamId);
  };
  return { reset, resetTeam };
}
