import { createHash, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { hostname } from 'node:os';
import { localClusterId, localRegionId, localTeamId } from '../control-plane/identity.js';
import type { Store } from '../store/db.js';
import type { StoredAuditEvent } from '../store/audit-events.js';

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
  record(sandboxId: string, phase: AuditPhase, attributes: NetworkAuditAttributes): NetworkAuditEvent;
  /** Live events (for `watch` and `/_emulator/flows?follow=1`); returns the unsubscribe function. */
  subscribe(listener: AuditListener): () => void;
}

/** Drops undefined attributes so events stay compact and stable. */
function compact<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as T;
}

export function createAuditLog(deps: { store: Store; now?: () => Date }): AuditLog {
  const { store, now = () => new Date() } = deps;
  const listeners = new Set<AuditListener>();
  const instance = `${hostname()}:${randomUUID()}`;
  // Events are signed like upstream's (ed25519 over the payload hash) with a key made per instance.
  const { privateKey, publicKey } = generateKeyPairSync('ed25519') as { privateKey: KeyObject; publicKey: KeyObject };
  const signingKeyId = createHash('sha256').update(publicKey.export({ format: 'der', type: 'spki' })).digest('hex');
  let sequence = 0;

  return {
    record(sandboxId, phase, attributes) {
      const at = now().toISOString();
      const attrs = compact(attributes);
      const body = {
        event_id: randomUUID(),
        schema_version: 2,
        team_id: localTeamId,
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
      const payloadHash = createHash('sha256').update(JSON.stringify(body)).digest('hex');
      const event: NetworkAuditEvent = {
        ...body,
        integrity: {
          algorithm: 'ed25519-sha256-v1',
          payload_hash: payloadHash,
          signature: sign(null, Buffer.from(payloadHash, 'hex'), privateKey).toString('base64'),
          signing_key_id: signingKeyId,
          signature_status: 'verified',
        },
      };
      let seq: number;
      try {
        seq = store.auditEvents.insert(event);
      } catch {
        // The store is closed (the emulator is stopping while flows wind down): the event is dropped.
        return event;
      }
      for (const l of listeners) {
        try {
          l(event, seq);
        } catch {
          // a broken subscriber must not break the data path
        }
      }
      return event;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
