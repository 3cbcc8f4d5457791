import { createHash, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { hostname } from 'node:os';
import { localClusterId, localRegionId, localTeamId } from '../control-plane/identity.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/db.js';
import type { AuditEventFilter, StoredAuditEvent } from '../store/audit-events.js';

export type AuditPhase = 'attempt' | 'result';
export type AuditOutcome = 'accepted' | 'completed' | 'denied' | 'error';
export type AuditAction = 'deny' | 'pass-through' | 'use-adapter';

/**
 * Canonical `network_audit` attributes (reference §6), plus the emulator's own diagnosis fields
 * (`matched_rule`, `route`, `proxy_*`, `error_step`, `error`). No field ever holds a secret.
 */
export interface NetworkAuditAttributes {
  flow_id: string;
  src_ip?: string;
  dest_ip: string;
  dest_port: number;
  transport: 'tcp' | 'udp';
  protocol?: string;
  host?: string;
  classifier_result: 'known' | 'unknown';
  action: AuditAction;
  reason: string;
  outcome: AuditOutcome;
  duration_ms?: number;
  egress_bytes?: number;
  ingress_bytes?: number;
  adapter?: string;
  adapter_capability?: 'pass-through' | 'inspect' | 'terminate';
  auth_ref?: string;
  auth_resolved?: boolean;
  auth_cache_hit?: boolean;
  auth_enforcement?: string;
  matched_rule?: string;
  route?: 'direct' | 'proxy';
  proxy_address?: string;
  proxy_target_atyp?: 'domain' | 'ipv4' | 'ipv6';
  proxy_target?: string;
  proxy_reply_code?: number;
  /** The gateway's `address:port` on its connection to the proxy: the proxy connection log's `client` for this flow. */
  proxy_source?: string;
  /** Which step failed: `proxy_resolve`, `proxy_connect`, `proxy_auth`, `proxy_connect_reply`, `credentials`, `upstream_connect`, `relay`. */
  error_step?: string;
  /** A secret-free description of the failure (upstream keeps this in the local JSONL only). */
  error?: string;
  /** Emulator notes, e.g. which policy fields were not enforced. */
  emulator_note?: string;
}

export type NetworkAuditEvent = StoredAuditEvent['event'] & {
  event_id: string;
  event_type: 'network_audit';
  phase: AuditPhase;
  outcome: AuditOutcome;
  action: 'network.deny' | 'network.connect';
  attributes: NetworkAuditAttributes;
};

export type AuditListener = (event: NetworkAuditEvent, seq: number) => void;

export interface AuditLog {
  /**
   * Records an event. It is stored (and delivered to subscribers) with the next batch, within the
   * same turn of the event loop's check phase: one transaction for all the events of a burst.
   */
  record(sandboxId: string, phase: AuditPhase, attributes: NetworkAuditAttributes): void;
  /** Stored events, oldest first, signed; pending events are stored first (read-your-writes). */
  list(filter: AuditEventFilter): { seq: number; event: NetworkAuditEvent }[];
  /** Stores the pending events now (before a read from another path, or before the store closes). */
  flush(): void;
  /** Live events (for `watch` and `/_emulator/flows?follow=1`); returns the unsubscribe function. */
  subscribe(listener: AuditListener): () => void;
  /** The key that verifies this instance's signatures (`integrity.signing_key_id` is `id`). */
  readonly signingKey: { id: string; publicKeyPem: string };
}

/** Drops undefined attributes so events stay compact and stable. */
function compact<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const k in o) if (o[k] !== undefined) out[k] = o[k];
  return out as T;
}

const integrityAlgorithm = 'ed25519-sha256-v1';

interface PendingEvent {
  event: StoredAuditEvent['event'] & { event_id: string; event_type: string; phase: string; outcome: string; action: string };
  json: string;
}

/** Events kept for a retry while the store refuses writes (busy, disk full); the oldest go first. */
const maxPendingEvents = 10_000;
/** Pause before retrying a batch the store refused. */
const retryMs = 1_000;

export function createAuditLog(deps: { store: Store; now?: () => Date; logger?: Logger }): AuditLog {
  const { store, now = () => new Date(), logger } = deps;
  // A sandbox's team never changes: looked up once per sandbox, not once per event (a bounded cache).
  const teams = new Map<string, string>();
  const teamOf = (sandboxId: string): string => {
    let team = teams.get(sandboxId);
    if (team === undefined) {
      const record = store.db.open ? store.sandboxes.get(sandboxId) : undefined;
      team = record?.teamId ?? localTeamId;
      if (teams.size >= 10_000) teams.clear();
      if (record) teams.set(sandboxId, team);
    }
    return team;
  };
  const listeners = new Set<AuditListener>();
  const instance = `${hostname()}:${randomUUID()}`;
  // Events are signed like upstream's (ed25519 over the payload hash) with a key made per instance.
  // Ed25519 signatures are deterministic, so an event is signed when it is read or delivered rather
  // than on the data path: the stored record keeps the payload hash, and every reader gets the same
  // signature for it.
  const { privateKey, publicKey } = generateKeyPairSync('ed25519') as { privateKey: KeyObject; publicKey: KeyObject };
  const signingKeyId = createHash('sha256').update(publicKey.export({ format: 'der', type: 'spki' })).digest('hex');
  const signed = (event: Record<string, unknown>): NetworkAuditEvent => {
    const partial = event.integrity as { payload_hash: string };
    event.integrity = {
      algorithm: integrityAlgorithm,
      payload_hash: partial.payload_hash,
      signature: sign(null, Buffer.from(partial.payload_hash, 'hex'), privateKey).toString('base64'),
      signing_key_id: signingKeyId,
      signature_status: 'verified',
    };
    return event as NetworkAuditEvent;
  };
  let sequence = 0;
  let pending: PendingEvent[] = [];
  let scheduled: NodeJS.Immediate | undefined;
  let retry: NodeJS.Timeout | undefined;
  let dropped = 0;

  const flush = (): void => {
    if (scheduled) clearImmediate(scheduled);
    scheduled = undefined;
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    let seqs: number[];
    try {
      seqs = store.transaction(() => batch.map((p) => store.auditEvents.insert(p.event, p.json)));
    } catch (err) {
      // The store is closed (the emulator is stopping while flows wind down): the events are dropped.
      if (!store.db.open) return;
      // Busy or full: keep the events (bounded) and try again later; the data path goes on.
      pending = batch.concat(pending);
      if (pending.length > maxPendingEvents) {
        dropped += pending.length - maxPendingEvents;
        pending = pending.slice(pending.length - maxPendingEvents);
      }
      if (!retry) {
        logger?.warn({ err: { message: (err as Error).message }, pending: pending.length, dropped }, 'audit events not stored yet; retrying');
        retry = setTimeout(() => {
          retry = undefined;
          flush();
        }, retryMs);
        retry.unref();
      }
      return;
    }
    if (retry) {
      // Stored by an explicit flush while a retry was waiting: record() schedules batches again now.
      clearTimeout(retry);
      retry = undefined;
    }
    if (dropped > 0) {
      logger?.warn({ dropped }, 'audit events were dropped while the store refused writes');
      dropped = 0;
    }
    if (listeners.size === 0) return;
    batch.forEach((p, i) => {
      const event = signed(JSON.parse(p.json) as Record<string, unknown>);
      for (const l of listeners) {
        try {
          l(event, seqs[i]!);
        } catch {
          // a broken subscriber must not break the data path
        }
      }
    });
  };

  return {
    record(sandboxId, phase, attributes) {
      const at = now().toISOString();
      const attrs = compact(attributes);
      const body = {
        event_id: randomUUID(),
        schema_version: 2,
        team_id: teamOf(sandboxId),
        sandbox_id: sandboxId,
        region_id: localRegionId,
        cluster_id: localClusterId,
        occurred_at: at,
        ingested_at: at,
        source: 'ctld',
        event_type: 'network_audit' as const,
        phase,
        outcome: attrs.outcome,
        actor: { kind: 'sandbox_workload', id: sandboxId, auth_method: 'workload_token' },
        action: attrs.action === 'deny' ? ('network.deny' as const) : ('network.connect' as const),
        resource: { type: 'sandbox_network', id: sandboxId },
        operation_id: attrs.flow_id,
        producer: { service: 'ctld', instance, sequence: ++sequence },
        attributes: attrs,
      };
      const payload = JSON.stringify(body);
      const payloadHash = createHash('sha256').update(payload).digest('hex');
      // The stored JSON is the payload with the integrity block appended (one serialization).
      const json = `${payload.slice(0, -1)},"integrity":{"algorithm":"${integrityAlgorithm}","payload_hash":"${payloadHash}"}}`;
      pending.push({ event: body, json });
      if (!retry) scheduled ??= setImmediate(flush);
    },
    list(filter) {
      flush();
      return store.auditEvents.list(filter).map((r) => ({ seq: r.seq, event: signed(r.event) }));
    },
    flush,
    signingKey: { id: signingKeyId, publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString() },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
