import type { ControlPlaneEvents } from '../control-plane/events.js';
import type { CredentialSourceService } from '../control-plane/credential-sources.js';
import type { NetworkPolicyService } from '../control-plane/network-policies.js';
import type { SandboxService } from '../control-plane/sandboxes.js';
import type { AuditLog } from '../gateway/audit.js';
import type { CredentialResolver } from '../gateway/credentials.js';
import type { Gateway } from '../gateway/gateway.js';
import type { ContextService } from '../sandbox/contexts.js';
import type { SandboxRuntime } from '../sandbox/runtime.js';
import type { Store } from '../store/db.js';
import type { CustomerServices } from '../test-proxy/customer-services.js';

/**
 * An emulator's pieces, for this package's own tests and benchmarks (`src/internals.ts`): not part
 * of the library's surface, so their types may change in any release.
 */
export interface EmulatorInternals {
  readonly store: Store;
  readonly events: ControlPlaneEvents;
  readonly services: { sandboxes: SandboxService; network: NetworkPolicyService; credentialSources: CredentialSourceService };
  readonly audit: AuditLog;
  readonly credentials: CredentialResolver;
  readonly gateway: Gateway;
  readonly runtime: SandboxRuntime;
  readonly contexts: ContextService;
  readonly customerServices: CustomerServices | undefined;
  /** The HTTP app (hono): its `routes` list every path the API serves. */
  readonly app: { routes: readonly { method: string; path: string }[] };
}

// Keyed by the emulator object itself: nothing on it leads here, and a stopped emulator is collected.
const registry = new WeakMap<object, EmulatorInternals>();

export function registerInternals(emulator: object, internals: EmulatorInternals): void {
  registry.set(emulator, internals);
}

export function internalsOf(emulator: object): EmulatorInternals {
  const internals = registry.get(emulator);
  if (!internals) throw new Error('emulatorInternals: not an emulator started by startEmulator in this process');
  return internals;
}
