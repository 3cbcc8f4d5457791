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

const integrityAlgorithm = 'ed25519-sha256-v1';

interface PendingEvent {
  event: StoredAuditEvent['event'] & { event_id: string; event_type: string; phase: string; outcome: string; action: string };
  json: string;
}

/** Events kept for a retry while the store refuses writes (busy, disk full); the oldest go first. */
const maxPendingEvents = 10_000;
/** Pause before retrying a batch the store refused. */
const retryMs = 1_000;

/** The event envelope around a flow's attributes (schema v2, as ctld writes it). */
function auditEnvelope(sandboxId: string, teamId: string, phase: AuditPhase, attrs: NetworkAuditAttributes, at: string, producer: { instance: string; sequence: number }) {
  return {
    event_id: randomUUID(),
    schema_version: 2,
    team_id: teamId,
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
    producer: { service: 'ctld', ...producer },
    attributes: attrs,
  };
}

/**
 * Events are signed like upstream's (ed25519 over the payload hash) with a key made per instance.
 * Hashes and ed25519 signatures are deterministic, so an event is hashed and signed when it is read or
 * delivered rather than on the data path: the stored record is the payload itself, and every reader
 * gets the same hash and signature for it. (Records stored before carry their hash in the JSON.)
 */
class AuditSigner {
  private readonly privateKey: KeyObject;
  readonly key: { id: string; publicKeyPem: string };

  constructor() {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519') as { privateKey: KeyObject; publicKey: KeyObject };
    this.privateKey = privateKey;
    const id = createHash('sha256').update(publicKey.export({ format: 'der', type: 'spki' })).digest('hex');
    this.key = { id, publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString() };
  }

  /** `payload`: the stored JSON that `event` was parsed from. */
  signed(event: Record<string, unknown>, payload: string): NetworkAuditEvent {
    const stored = (event.integrity as { payload_hash?: string } | undefined)?.payload_hash;
    const payloadHash = stored ?? createHash('sha256').update(payload).digest('hex');
    event.integrity = {
      algorithm: integrityAlgorithm,
      payload_hash: payloadHash,
      signature: sign(null, Buffer.from(payloadHash, 'hex'), this.privateKey).toString('base64'),
      signing_key_id: this.key.id,
      signature_status: 'verified',
    };
    return event as NetworkAuditEvent;
  }
}

/** A sandbox's team never changes: looked up once per sandbox, not once per event (a bounded cache). */
function teamLookup(store: Store): (sandboxId: string) => string {
  const teams = new Map<string, string>();
  return (sandboxId) => {
    let team = teams.get(sandboxId);
    if (team === undefined) {
      const record = store.db.open ? store.sandboxes.get(sandboxId) : undefined;
      team = record?.teamId ?? localTeamId;
      if (teams.size >= 10_000) teams.clear();
      if (record) teams.set(sandboxId, team);
    }
    return team;
  };
}

/** The audit log over the store: events batched per event-loop turn, kept and retried while the store refuses writes. */
class BatchedAuditLog implements AuditLog {
  private readonly listeners = new Set<AuditListener>();
  private readonly instance = `${hostname()}:${randomUUID()}`;
  private readonly signer = new AuditSigner();
  private readonly teamOf: (sandboxId: string) => string;
  private sequence = 0;
  private pending: PendingEvent[] = [];
  private scheduled: NodeJS.Immediate | undefined;
  private retry: NodeJS.Timeout | undefined;
  private dropped = 0;
  readonly signingKey: { id: string; publicKeyPem: string };

  constructor(
    private readonly store: Store,
    private readonly now: () => Date,
    private readonly logger: Logger | undefined,
  ) {
    this.teamOf = teamLookup(store);
    this.signingKey = this.signer.key;
  }

  record = (sandboxId: string, phase: AuditPhase, attributes: NetworkAuditAttributes): void => {
    const at = this.now().toISOString();
    const body = auditEnvelope(sandboxId, this.teamOf(sandboxId), phase, attributes, at, { instance: this.instance, sequence: ++this.sequence });
    // Serialized now (undefined attributes are left out), so a caller may go on changing `attributes`;
    // the stored JSON is the signed payload. `body` only gives the store its columns.
    this.pending.push({ event: body, json: JSON.stringify(body) });
    if (!this.retry) this.scheduled ??= setImmediate(this.flush);
  };

  list = (filter: AuditEventFilter): { seq: number; event: NetworkAuditEvent }[] => {
    this.flush();
    return this.store.auditEvents.list(filter).map((r) => ({ seq: r.seq, event: this.signer.signed(r.event, r.json) }));
  };

  subscribe = (listener: AuditListener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  flush = (): void => {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    let seqs: number[];
    try {
      seqs = this.store.transaction(() => batch.map((p) => this.store.auditEvents.insert(p.event, p.json)));
    } catch (err) {
      // The store is closed (the emulator is stopping while flows wind down): the events are dropped.
      if (this.store.db.open) this.keepForRetry(batch, err as Error);
      return;
    }
    this.stored();
    this.deliver(batch, seqs);
  };

  /** Busy or full: keep the events (bounded) and try again later; the data path goes on. */
  private keepForRetry(batch: PendingEvent[], err: Error): void {
    this.pending = batch.concat(this.pending);
    if (this.pending.length > maxPendingEvents) {
      this.dropped += this.pending.length - maxPendingEvents;
      this.pending = this.pending.slice(this.pending.length - maxPendingEvents);
    }
    if (this.retry) return;
    this.logger?.warn({ err: { message: err.message }, pending: this.pending.length, dropped: this.dropped }, 'audit events not stored yet; retrying');
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.flush();
    }, retryMs);
    this.retry.unref();
  }

  private stored(): void {
    if (this.retry) {
      // Stored by an explicit flush while a retry was waiting: record() schedules batches again now.
      clearTimeout(this.retry);
      this.retry = undefined;
    }
    if (this.dropped > 0) {
      this.logger?.warn({ dropped: this.dropped }, 'audit events were dropped while the store refused writes');
      this.dropped = 0;
    }
  }

  private deliver(batch: PendingEvent[], seqs: number[]): void {
    if (this.listeners.size === 0) return;
    batch.forEach((p, i) => {
      const event = this.signer.signed(JSON.parse(p.json) as Record<string, unknown>, p.json);
      for (const l of this.listeners) {
        try {
          l(event, seqs[i]!);
        } catch {
          // a broken subscriber must not break the data path
        }
      }
    });
  }
}

export function createAuditLog(deps: { store: Store; now?: () => Date; logger?: Logger }): AuditLog {
  return new BatchedAuditLog(deps.store, deps.now ?? (() => new Date()), deps.logger);
}
