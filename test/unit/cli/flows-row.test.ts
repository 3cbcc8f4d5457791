import { describe, expect, it } from 'vitest';
import { failureDetail, flowRow } from '../../../src/cli/commands/flows.js';
import type { NetworkAuditEvent } from '../../../src/gateway/audit.js';

const attrs = (over: Partial<NetworkAuditEvent['attributes']>): NetworkAuditEvent['attributes'] => ({
  flow_id: 'tcp-1',
  dest_ip: '198.18.0.10',
  dest_port: 443,
  transport: 'tcp',
  classifier_result: 'known',
  action: 'use-adapter',
  reason: 'allowed',
  outcome: 'error',
  ...over,
});

describe('failureDetail', () => {
  it.each([
    [{ error_step: 'proxy_reply', proxy_reply_code: 8 }, 'proxy replied 0x08 address type not supported'],
    [{ error_step: 'proxy_reply', proxy_reply_code: 2 }, 'proxy replied 0x02 connection not allowed by ruleset'],
    [{ error_step: 'proxy_auth', error: 'rejected' }, 'proxy auth failed (username/password rejected)'],
    [{ error_step: 'proxy_connect', error: 'connect ETIMEDOUT 10.0.0.1:1080' }, 'timeout at proxy_connect'],
    [{ error_step: 'relay', error: 'upstream ECONNRESET' }, 'relay: upstream ECONNRESET'],
    [{ action: 'deny', reason: 'sandbox_resolution_failed', host: 'db.corp.example.com', dest_ip: '' }, 'db.corp.example.com does not resolve in the sandbox'],
    [{ action: 'deny', reason: 'quic_not_proxied', outcome: 'denied', transport: 'udp' }, 'UDP is never proxied (emulator)'],
    [{ outcome: 'completed' }, ''],
  ] as const)('%j → %s', (over, want) => {
    expect(failureDetail(attrs(over as Partial<NetworkAuditEvent['attributes']>))).toBe(want);
  });
});

describe('flowRow', () => {
  it('marks names the sandbox could not resolve and escapes sandbox-supplied text', () => {
    const row = flowRow({ occurred_at: '2026-01-01T00:00:00.000Z', sandbox_id: 'sb-1', attributes: attrs({ action: 'deny', reason: 'sandbox_resolution_failed', host: 'x\u001b[2J.example', dest_ip: '' }) } as NetworkAuditEvent);
    expect(row).toMatchObject({ verdict: 'unresolved', dest: '-:443', host: 'x\\x1b[2J.example', why: 'x\\x1b[2J.example does not resolve in the sandbox' });
  });
});
