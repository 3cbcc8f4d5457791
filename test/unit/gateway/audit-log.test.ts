import { createHash, createPublicKey, verify } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuditLog, type NetworkAuditAttributes } from '../../../src/gateway/audit.js';
import { openStore, type Store } from '../../../src/store/db.js';

const attrs = (n: number): NetworkAuditAttributes => ({
  flow_id: `tcp-${n}`,
  dest_ip: '198.18.0.10',
  dest_port: 443,
  transport: 'tcp',
  classifier_result: 'known',
  action: 'use-adapter',
  reason: 'allowed',
  outcome: 'accepted',
});

const stores: Store[] = [];
const store = () => {
  const s = openStore({ kind: 'memory' });
  stores.push(s);
  return s;
};
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

/** Makes the store refuse audit writes as SQLite does when the disk is full, until `restore()`. */
function refuseWrites(s: Store): { restore(): void } {
  const original = s.auditEvents.insert;
  s.auditEvents.insert = () => {
    throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
  };
  return { restore: () => void (s.auditEvents.insert = original) };
}

describe('audit log', () => {
  it('stores events in batches, in order, and reads its own writes', () => {
    const s = store();
    const audit = createAuditLog({ store: s });
    for (let i = 1; i <= 3; i++) audit.record('sb-1', 'attempt', attrs(i));
    expect(s.auditEvents.count()).toBe(0); // not yet: the batch is written on the next check phase
    const listed = audit.list({ limit: 10 });
    expect(listed.map((r) => r.event.attributes.flow_id)).toEqual(['tcp-1', 'tcp-2', 'tcp-3']);
    expect(s.auditEvents.count()).toBe(3);
  });

  it('signs each event when it is read, over the stored payload hash, the same way every time', () => {
    const audit = createAuditLog({ store: store() });
    audit.record('sb-1', 'result', { ...attrs(1), outcome: 'completed' });
    const [first] = audit.list({ limit: 1 });
    const [again] = audit.list({ limit: 1 });
    const integrity = first!.event.integrity as { payload_hash: string; signature: string; signing_key_id: string };
    expect(integrity.payload_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(integrity.signature).toBe((again!.event.integrity as { signature: string }).signature);
    expect(integrity.signing_key_id).toBe(audit.signingKey.id);
    const key = createPublicKey(audit.signingKey.publicKeyPem);
    expect(createHash('sha256').update(key.export({ format: 'der', type: 'spki' })).digest('hex')).toBe(audit.signingKey.id);
    const sig = Buffer.from(integrity.signature, 'base64');
    expect(verify(null, Buffer.from(integrity.payload_hash, 'hex'), key, sig)).toBe(true);
    expect(verify(null, Buffer.alloc(32), key, sig)).toBe(false);
    // The payload hash is the hash of the event without its integrity block.
    const { integrity: _ignored, ...payload } = first!.event as unknown as Record<string, unknown>;
    expect(createHash('sha256').update(JSON.stringify(payload)).digest('hex')).toBe(integrity.payload_hash);
  });

  it('keeps events the store refuses (disk full) and stores them once it accepts writes again', async () => {
    const s = store();
    const audit = createAuditLog({ store: s });
    const refusal = refuseWrites(s);
    audit.record('sb-1', 'attempt', attrs(1));
    audit.record('sb-1', 'result', attrs(2));
    audit.flush();
    expect(s.auditEvents.count()).toBe(0);
    audit.record('sb-1', 'attempt', attrs(3));
    refusal.restore();
    audit.flush();
    expect(audit.list({ limit: 10 }).map((r) => r.event.attributes.flow_id)).toEqual(['tcp-1', 'tcp-2', 'tcp-3']);
  });

  it('bounds what it keeps while the store refuses writes, dropping the oldest', () => {
    const s = store();
    const audit = createAuditLog({ store: s });
    const refusal = refuseWrites(s);
    for (let i = 1; i <= 10_005; i++) audit.record('sb-1', 'attempt', attrs(i));
    audit.flush();
    refusal.restore();
    audit.flush();
    const rows = audit.list({ limit: 20_000 });
    expect(rows).toHaveLength(10_000);
    expect(rows[0]!.event.attributes.flow_id).toBe('tcp-6');
  });

  it('drops pending events once the store is closed (the emulator is stopping), without throwing', () => {
    const s = store();
    const audit = createAuditLog({ store: s });
    audit.record('sb-1', 'attempt', attrs(1));
    s.close();
    expect(() => audit.flush()).not.toThrow();
  });
});
