import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AuditLog } from '../../../src/gateway/audit.js';
import type { Gateway } from '../../../src/gateway/gateway.js';
import { PlatformDnsView } from '../../../src/dns/views.js';
import { SandboxNameResolver } from '../../../src/sandbox/sandbox-name-resolver.js';
import { createUnresolvableAudit, sandboxResolutionFailed } from '../../../src/sandbox/unresolvable-audit.js';

function setup() {
  const records: { sandboxId: string; attrs: Record<string, unknown> }[] = [];
  const counters = { tcp: 0, udp: 0 };
  const gateway = { nextFlowId: (t: 'tcp' | 'udp') => `${t}-${++counters[t]}` } as unknown as Gateway;
  const audit = { record: (sandboxId: string, _kind: string, attrs: Record<string, unknown>) => void records.push({ sandboxId, attrs }) } as unknown as AuditLog;
  const resolver = new SandboxNameResolver({ hosts: () => ({}), platformDns: () => new PlatformDnsView({}) });
  return { unresolvable: createUnresolvableAudit({ gateway, audit, resolver }), records };
}

describe('unresolvable-name auditing', () => {
  afterEach(() => void vi.useRealTimers());

  it('audits every TCP attempt as a denied result with the documented-pitfall note', () => {
    const { unresolvable, records } = setup();
    expect(unresolvable('sb', 'db.example.com', 5432, 'socks5')).toBe('tcp-1');
    expect(unresolvable('sb', 'db.example.com', 5432, 'in-process')).toBe('tcp-2');
    expect(records[0]).toMatchObject({ sandboxId: 'sb', attrs: { flow_id: 'tcp-1', transport: 'tcp', host: 'db.example.com', dest_port: 5432, action: 'deny', reason: sandboxResolutionFailed, outcome: 'error' } });
    expect(records[0]!.attrs.emulator_note).toMatch(/^the sandbox cannot resolve db\.example\.com, so the connection never started/);
  });

  it('folds datagrams to one name and port into one record per 10 s window', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const { unresolvable, records } = setup();
    expect(unresolvable('sb', 'q.example.com', 443, 'udp')).toBe('udp-1');
    expect(unresolvable('sb', 'q.example.com', 443, 'udp')).toBeUndefined();
    expect(unresolvable('sb', 'q.example.com', 444, 'udp')).toBe('udp-2');
    expect(unresolvable('other', 'q.example.com', 443, 'udp')).toBe('udp-3');
    vi.advanceTimersByTime(10_000);
    expect(unresolvable('sb', 'q.example.com', 443, 'udp')).toBe('udp-4');
    expect(records.map((r) => r.attrs.flow_id)).toEqual(['udp-1', 'udp-2', 'udp-3', 'udp-4']);
  });
});
