import type { ControlPlaneEvents } from '../control-plane/events.js';
import { localTeamId } from '../control-plane/identity.js';
import { parseGoDuration } from '../policy/validate.js';
import type { Store } from '../store/db.js';

/** Default lifetime of a resolved credential when the binding has no cachePolicy.ttl (upstream: 5 min). */
export const defaultCredentialTtlMs = 5 * 60_000;

export type CredentialFailure =
  | 'binding_not_found'
  | 'source_not_found'
  | 'wrong_projection'
  | 'wrong_resolver_kind'
  | 'empty_credentials';

export type CredentialResolution =
  | { ok: true; username: string; password: string; sourceRef: string; sourceVersion: number; cacheHit: boolean }
  | { ok: false; failure: CredentialFailure; message: string };

export interface CredentialDestination {
  /** The classified hostname, else the original destination IP. */
  host: string;
  port: number;
}

export interface CredentialResolver {
  /** credentialRef → the sandbox's binding → the source version it is pinned to → username/password. */
  resolve(sandboxId: string, ref: string, dest: CredentialDestination): CredentialResolution;
  /** Entries currently cached (for tests and /_emulator/info). */
  size(): number;
  close(): void;
}

interface CacheEntry {
  value: Extract<CredentialResolution, { ok: true }>;
  expiresAt: number;
}

/**
 * The ctld/manager credential path for the SOCKS5 proxy (reference §5): cached per
 * (sandbox, ref, destination, port, tcp, socks5) until the binding's TTL, and dropped when the source
 * rotates or the sandbox's policy changes. Failure messages name the ref and source, never a secret.
 */
export function createCredentialResolver(deps: { store: Store; events: ControlPlaneEvents; now?: () => number; maxEntries?: number }): CredentialResolver {
  const { store, events, now = Date.now, maxEntries = 10_000 } = deps;
  const cache = new Map<string, CacheEntry>();
  const keyOf = (sandboxId: string, ref: string, d: CredentialDestination) => `${sandboxId}\u0000${ref}\u0000${d.host}\u0000${d.port}\u0000tcp\u0000socks5`;

  const dropWhere = (pred: (key: string, e: CacheEntry) => boolean) => {
    for (const [k, e] of cache) if (pred(k, e)) cache.delete(k);
  };
  const onRotated = (name: string, version: number) => dropWhere((_, e) => e.value.sourceRef === name && e.value.sourceVersion < version);
  const onSourceDeleted = (name: string) => dropWhere((_, e) => e.value.sourceRef === name);
  const onSandbox = (sandboxId: string) => dropWhere((k) => k.startsWith(`${sandboxId}\u0000`));
  const onReset = () => cache.clear();
  events.on('source-rotated', onRotated);
  events.on('source-deleted', onSourceDeleted);
  events.on('network-updated', onSandbox);
  events.on('sandbox-deleted', onSandbox);
  events.on('reset', onReset);

  return {
    resolve(sandboxId, ref, dest) {
      const key = keyOf(sandboxId, ref, dest);
      const hit = cache.get(key);
      if (hit && hit.expiresAt > now()) return { ...hit.value, cacheHit: true };
      if (hit) cache.delete(key);

      const stored = store.bindings.forSandbox(sandboxId).find((b) => b.binding.ref === ref);
      if (!stored) return { ok: false, failure: 'binding_not_found', message: `egress proxy credentials for "${ref}" are unavailable: no credential binding "${ref}"` };
      if (stored.binding.projection?.type !== 'username_password') {
        return { ok: false, failure: 'wrong_projection', message: `credential binding "${ref}" has projection "${stored.binding.projection?.type ?? ''}", the proxy needs username_password` };
      }
      const sourceRef = stored.binding.sourceRef;
      // The sandbox's own team: tenants' sources of the same name are other sources.
      const teamId = store.sandboxes.get(sandboxId)?.teamId ?? localTeamId;
      const meta = store.credentialSources.get(teamId, sourceRef);
      const spec = meta ? store.credentialSources.spec(teamId, sourceRef, stored.sourceVersion) : undefined;
      if (!meta || !spec) {
        return { ok: false, failure: 'source_not_found', message: `credential source "${sourceRef}" version ${stored.sourceVersion} (bound as "${ref}") not found` };
      }
      if (meta.resolverKind !== 'static_username_password' || !spec.staticUsernamePassword) {
        return { ok: false, failure: 'wrong_resolver_kind', message: `credential source "${sourceRef}" is ${meta.resolverKind}, the proxy needs static_username_password` };
      }
      const { username = '', password = '' } = spec.staticUsernamePassword;
      if (username === '' || password === '') {
        return { ok: false, failure: 'empty_credentials', message: `credential source "${sourceRef}" has an empty username or password` };
      }
      const ttl = parseGoDuration(stored.binding.cachePolicy?.ttl || '');
      const ttlMs = ttl.ok && stored.binding.cachePolicy?.ttl ? ttl.ms : defaultCredentialTtlMs;
      const value = { ok: true as const, username, password, sourceRef, sourceVersion: stored.sourceVersion, cacheHit: false };
      if (ttlMs > 0) {
        if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
        cache.set(key, { value, expiresAt: now() + ttlMs });
      }
      return value;
    },
    size: () => cache.size,
    close() {
      events.off('source-rotated', onRotated);
      events.off('source-deleted', onSourceDeleted);
      events.off('network-updated', onSandbox);
      events.off('sandbox-deleted', onSandbox);
      events.off('reset', onReset);
      cache.clear();
    },
  };
}
