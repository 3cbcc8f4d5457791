import { Client } from 'sandbox0';
import { beforeEach, describe, expect, it } from 'vitest';
import type { NetworkAuditAttributes } from '../../../src/gateway/audit.js';
import { api, useEmulator } from '../../helpers/emulator.js';
import { emulatorInternals } from '../../../src/internals.js';

/** Network audit events through the Sandbox0 events API (list, filters, cursor, NDJSON watch) and /_emulator/flows. */
const emu = useEmulator();
const internals = () => emulatorInternals(emu.current);
const client = api(() => emu.current);

const attrs = (n: number, over: Partial<NetworkAuditAttributes> = {}): NetworkAuditAttributes => ({
  flow_id: `tcp-${n}`,
  dest_ip: '198.18.0.10',
  dest_port: 443,
  transport: 'tcp',
  protocol: 'tls',
  host: 'api.internal.example.com',
  classifier_result: 'known',
  action: 'use-adapter',
  reason: 'allowed',
  outcome: 'accepted',
  ...over,
});

async function claim() {
  return (await client.post('/api/v1/sandboxes', { template: 'default' })).json.data.sandbox_id as string;
}

beforeEach(async () => {
  await emu.current.reset();
});

describe('observability events', () => {
  it('lists network_audit events with upstream fields, filters and a cursor', async () => {
    const id = await claim();
    const other = await claim();
    for (let i = 0; i < 5; i++) internals().audit.record(id, 'attempt', attrs(i));
    internals().audit.record(id, 'result', attrs(9, { action: 'deny', reason: 'l4_denied', outcome: 'denied' }));
    internals().audit.record(other, 'result', attrs(10, { action: 'deny', reason: 'l4_denied', outcome: 'denied' }));

    const all = await client.get(`/api/v1/sandboxes/${id}/observability/events`);
    expect(all.status).toBe(200);
    const events = all.json.data.events;
    expect(events).toHaveLength(6);
    const deny = events[5];
    expect(deny).toMatchObject({
      schema_version: 2,
      team_id: 'team-local',
      sandbox_id: id,
      source: 'ctld',
      event_type: 'network_audit',
      phase: 'result',
      outcome: 'denied',
      action: 'network.deny',
      actor: { kind: 'sandbox_workload', id, auth_method: 'workload_token' },
      resource: { type: 'sandbox_network', id },
      operation_id: 'tcp-9',
      producer: { service: 'ctld' },
      integrity: { algorithm: 'ed25519-sha256-v1', signature_status: 'verified' },
      attributes: { flow_id: 'tcp-9', action: 'deny', reason: 'l4_denied', outcome: 'denied' },
    });
    expect(deny.event_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(deny.integrity.payload_hash).toMatch(/^[0-9a-f]{64}$/);

    const denied = await client.get(`/api/v1/sandboxes/${id}/observability/events?outcome=denied`);
    expect(denied.json.data.events.map((e: { operation_id: string }) => e.operation_id)).toEqual(['tcp-9']);
    const byAction = await client.get(`/api/v1/sandboxes/${id}/observability/events?action=network.connect`);
    expect(byAction.json.data.events).toHaveLength(5);

    const page1 = await client.get(`/api/v1/sandboxes/${id}/observability/events?limit=4`);
    expect(page1.json.data.events).toHaveLength(4);
    expect(page1.json.data.next_cursor).toBeTruthy();
    const page2 = await client.get(`/api/v1/sandboxes/${id}/observability/events?limit=4&cursor=${page1.json.data.next_cursor}`);
    expect(page2.json.data.events.map((e: { operation_id: string }) => e.operation_id)).toEqual(['tcp-4', 'tcp-9']);
    expect(page2.json.data.next_cursor).toBeUndefined();

    for (const bad of ['limit=0', 'outcome=maybe', 'event_type=x', 'cursor=@@', 'start_time=yesterday', 'watch=true&end_time=2026-01-01T00:00:00Z']) {
      expect((await client.get(`/api/v1/sandboxes/${id}/observability/events?${bad}`)).status, bad).toBe(400);
    }
    expect((await client.get('/api/v1/sandboxes/sb-nope/observability/events')).status).toBe(404);
  });

  it('streams new events as NDJSON watch lines to the official SDK', async () => {
    const id = await claim();
    internals().audit.record(id, 'attempt', attrs(1)); // before the watch: not replayed without a cursor
    const sdk = new Client({ token: emu.current.token, baseUrl: emu.current.apiUrl });
    const stream = await sdk.watchSandboxObservabilityEvents(id, { eventType: 'network_audit' });
    const got: string[] = [];
    const iterator = stream[Symbol.asyncIterator]();
    internals().audit.record(id, 'attempt', attrs(2));
    internals().audit.record(id, 'result', attrs(2, { outcome: 'completed' }));
    for (let i = 0; i < 20 && got.length < 2; i++) {
      const { value, done } = await iterator.next();
      if (done) break;
      if (value.type === 'event') got.push(`${(value.data as { operationId?: string; operation_id?: string }).operationId ?? (value.data as { operation_id?: string }).operation_id}:${(value.data as { phase: string }).phase}`);
    }
    expect(got).toEqual(['tcp-2:attempt', 'tcp-2:result']);
    await iterator.return?.();
    await stream.body.cancel().catch(() => undefined);
  });

  it('serves all sandboxes at /_emulator/flows and follows them live', async () => {
    const a = await claim();
    const b = await claim();
    internals().audit.record(a, 'attempt', attrs(1));
    internals().audit.record(b, 'attempt', attrs(2));
    const list = await client.get('/_emulator/flows');
    expect(list.json.data.events.map((e: { sandbox_id: string }) => e.sandbox_id)).toEqual([a, b]);
    expect((await client.get(`/_emulator/flows?sandbox=${b}`)).json.data.events).toHaveLength(1);

    const controller = new AbortController();
    const res = await fetch(`${emu.current.apiUrl}/_emulator/flows?follow=1&sandbox=${a}`, { headers: { authorization: `Bearer ${emu.current.token}` }, signal: controller.signal });
    expect(res.headers.get('content-type')).toContain('application/x-ndjson');
    const reader = res.body!.getReader();
    internals().audit.record(b, 'attempt', attrs(3)); // other sandbox: filtered out
    internals().audit.record(a, 'result', attrs(4, { outcome: 'completed' }));
    let text = '';
    for (let i = 0; i < 20 && !text.includes('\n'); i++) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    const first = JSON.parse(text.split('\n')[0]!);
    expect(first.sandbox_id).toBe(a);
    expect(first.attributes.flow_id).toBe('tcp-4');
    controller.abort();
  });

  it('keeps the table bounded and clears it on reset', async () => {
    const id = await claim();
    internals().audit.record(id, 'attempt', attrs(1));
    expect(internals().store.auditEvents.count()).toBe(0); // stored with the next batch
    internals().audit.flush();
    expect(internals().store.auditEvents.count()).toBe(1);
    await client.post('/_emulator/reset');
    expect(internals().store.auditEvents.count()).toBe(0);
  });
});
