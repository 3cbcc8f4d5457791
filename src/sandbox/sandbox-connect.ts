import { EmulatorError } from '../errors.js';
import type { InProcessConnection, InProcessInterception } from '../interception/in-process.js';
import type { Store } from '../store/db.js';
import { targetAddress, type SandboxNameResolver } from './sandbox-name-resolver.js';
import { sandboxResolutionFailed, type AuditUnresolvable } from './unresolvable-audit.js';

/** Where `emulator.sandbox(id).connect()` goes: `host` is resolved as the sandbox would, unless `ip` is given. */
export interface ConnectTarget {
  host?: string;
  ip?: string;
  port: number;
}

export type ConnectFlow = (sandboxId: string, target: ConnectTarget) => Promise<InProcessConnection>;

/**
 * A connection from the sandbox's position through in-process interception. A name the sandbox cannot
 * resolve never becomes a flow: it is audited and rejected as a program's getaddrinfo would be.
 */
export function createSandboxConnect(deps: { store: Store; resolver: SandboxNameResolver; unresolvable: AuditUnresolvable; inProcess: InProcessInterception }): ConnectFlow {
  const { store, resolver, unresolvable, inProcess } = deps;
  return async (sandboxId, target) => {
    if (!store.sandboxes.get(sandboxId)) throw new EmulatorError('sandbox_not_found', `sandbox ${sandboxId} not found`);
    const { ip, found } = await targetAddress(resolver, sandboxId, target);
    if (!ip) {
      if (target.host) unresolvable(sandboxId, target.host, target.port, 'in-process');
      throw new EmulatorError(
        sandboxResolutionFailed,
        target.host ? `getaddrinfo ENOTFOUND ${target.host} (inside sandbox ${sandboxId}${found && !found.ok && found.askedHost ? `: ${found.reason}` : ''})` : 'connect needs a host or an ip',
      );
    }
    return inProcess.connect(sandboxId, { ip, port: target.port });
  };
}
