import { describe, expect, it } from 'vitest';
import type { NetworkAuditAttributes } from '../../../src/gateway/audit.js';
import { classificationOf, correlateProxyEntry, hostSourceOf } from '../../../src/gateway/flow-story.js';
import type { ConnectionLogEntry } from '../../../src/test-proxy/connection-log.js';

const entry = (id: number, time: string, client: string, host = 'api.internal.example.com', port = 443): ConnectionLogEntry => ({
  id,
  time,
  client,
  host,
  port,
  atyp: 'domain',
  bytesUp: 0,
  bytesDown: 0,
  durationMs: 1,
  state: 'closed',
});
const attrs = (extra: Partial<NetworkAuditAttributes>): NetworkAuditAttributes => ({
  flow_id: 'tcp-1',
  dest_ip: '198.18.0.10',
  dest_port: 443,
  transport: 'tcp',
  classifier_result: 'known',
  protocol: 'tls',
  host: 'api.internal.example.com',
  action: 'use-adapter',
  reason: 'allowed',
  outcome: 'completed',
  route: 'proxy',
  proxy_target: 'api.internal.example.com:443',
  ...extra,
});
const at = (iso: string) => Date.parse(iso);

describe('correlateProxyEntry', () => {
  const log = [
    entry(1, '2026-01-01T00:00:00.100Z', '127.0.0.1:5000'),
    entry(2, '2026-01-01T00:00:00.120Z', '127.0.0.1:5001'),
    entry(3, '2026-01-01T00:10:00.000Z', '127.0.0.1:5000'),
  ];

  it('takes the entry whose client is the flow’s proxy_source, within the flow’s time', () => {
    const found = correlateProxyEntry(log, attrs({ proxy_source: '127.0.0.1:5000' }), at('2026-01-01T00:00:00.090Z'), at('2026-01-01T00:00:00.500Z'));
    expect(found).toEqual({ entry: log[0], correlation: 'source' });
    // The same port reused ten minutes later is another connection.
    const later = correlateProxyEntry(log, attrs({ proxy_source: '127.0.0.1:5000' }), at('2026-01-01T00:09:59.990Z'), at('2026-01-01T00:10:00.200Z'));
    expect(later?.entry.id).toBe(3);
  });

  it('falls back to the target and the nearest time, and says so', () => {
    const found = correlateProxyEntry(log, attrs({}), at('2026-01-01T00:00:00.118Z'), at('2026-01-01T00:00:00.500Z'));
    expect(found).toEqual({ entry: log[1], correlation: 'target-and-time' });
    expect(correlateProxyEntry(log, attrs({ proxy_target: 'db.corp.example.com:5432' }), at('2026-01-01T00:00:00.100Z'), at('2026-01-01T00:00:00.200Z'))).toBeUndefined();
    expect(correlateProxyEntry([entry(9, '2026-01-01T00:00:00.100Z', 'x', '::1', 443)], attrs({ proxy_target: '[::1]:443' }), at('2026-01-01T00:00:00.100Z'), at('2026-01-01T00:00:00.100Z'))?.entry.id).toBe(9);
  });
});

describe('hostSourceOf and classificationOf', () => {
  it('names where the host came from', () => {
    expect(hostSourceOf('tcp', 'tls', true)).toBe('tls-sni');
    expect(hostSourceOf('tcp', 'http', true)).toBe('http-host');
    expect(hostSourceOf('udp', 'udp', true)).toBe('quic-sni');
    expect(hostSourceOf('udp', undefined, false)).toBe('dns-query');
    expect(hostSourceOf('tcp', 'ssh', true)).toBe('dns-cache');
  });

  it('rebuilds the classification the decider took from the audit attributes', () => {
    expect(classificationOf(attrs({}))).toEqual({ kind: 'known', appProtocol: 'tls', host: 'api.internal.example.com' });
    expect(classificationOf(attrs({ protocol: 'ssh', host: 'git.internal.example.com' }))).toEqual({ kind: 'known', appProtocol: 'ssh', host: 'git.internal.example.com', hostSource: 'dns-cache' });
    expect(classificationOf(attrs({ classifier_result: 'unknown', protocol: undefined, host: undefined, reason: 'missing_sni' }))).toEqual({ kind: 'unknown', reason: 'missing_sni' });
    // A reason that is not a classification one (e.g. the host-local guard's): unclassified.
    expect(classificationOf(attrs({ classifier_result: 'unknown', protocol: undefined, reason: 'host_local_denied' }))).toEqual({ kind: 'unknown', reason: 'unclassified' });
  });
});
