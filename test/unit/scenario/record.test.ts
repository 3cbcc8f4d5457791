import { describe, expect, it } from 'vitest';
import type { NetworkAuditEvent } from '../../../src/gateway/audit.js';
import { buildRecordedScenario, flowStep, type RecordSnapshot } from '../../../src/scenario/record.js';
import { parseScenario } from '../../../src/scenario/schema.js';

const event = (attributes: Partial<NetworkAuditEvent['attributes']>): NetworkAuditEvent =>
  ({ sandbox_id: 'sb-1', phase: 'result', event_type: 'network_audit', attributes: { flow_id: 'tcp-1', dest_ip: '198.18.0.10', dest_port: 443, transport: 'tcp', classifier_result: 'known', action: 'use-adapter', reason: 'allowed', outcome: 'completed', ...attributes } }) as NetworkAuditEvent;

const snapshot = (over: Partial<RecordSnapshot> = {}): RecordSnapshot => ({
  sandboxes: [{ id: 'sb-1', template: 'default', network: { mode: 'block-all' }, hosts: {} }],
  credentialSources: [
    { name: 'good', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'acme', password: 'same-secret' } } },
    { name: 'stale', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'acme', password: 'old-secret' } } },
  ],
  platformDns: { current: { 'api.internal.example.com': ['198.18.0.10'], 'proxy.example.com:1080': ['127.0.0.1:1234'], 'x.example': ['127.0.0.1:1234'] }, defaults: { 'api.internal.example.com': ['198.18.0.10'], 'proxy.example.com:1080': ['127.0.0.1:1234'] } },
  testProxyAddress: '127.0.0.1:1234',
  proxy: {
    users: [{ username: 'acme', password: 'same-secret' }],
    faults: [],
    customerDns: { current: { 'api.internal.example.com:443': '127.0.0.1:5000', 'db.corp.example.com:5432': '127.0.0.1:6000' }, defaults: { 'api.internal.example.com:443': '127.0.0.1:5000' } },
    services: { '@internal-api': '127.0.0.1:5000', '@identify': '127.0.0.1:6000' },
  },
  flows: [event({ host: 'api.internal.example.com', protocol: 'tls', route: 'proxy', proxy_target_atyp: 'domain', proxy_reply_code: 0 })],
  interception: 'explicit',
  ...over,
});

describe('buildRecordedScenario', () => {
  it('writes placeholders, equal secrets sharing one, and symbols for addresses that change between runs', () => {
    const doc = buildRecordedScenario(snapshot());
    expect(JSON.stringify(doc)).not.toMatch(/same-secret|old-secret/);
    expect(doc.customer?.proxy?.users).toEqual([{ username: 'acme', password: '${secret:acme-password}' }]);
    expect(doc.platform?.credentialSources?.map((s) => (s.spec as any).staticUsernamePassword.password)).toEqual(['${secret:acme-password}', '${secret:stale-password}']);
    expect(doc.platform?.dns).toEqual({ 'x.example': ['@test-proxy'] });
    expect(doc.customer?.dns).toEqual({ 'db.corp.example.com:5432': '@identify' });
    expect(() => parseScenario(doc)).not.toThrow();
  });

  it('puts the proxy users’ passwords, and sources equal to them, in clear only when asked', () => {
    const doc = buildRecordedScenario(snapshot(), { includeSecrets: true });
    expect(doc.customer?.proxy?.users).toEqual([{ username: 'acme', password: 'same-secret' }]);
    expect(doc.platform?.credentialSources?.map((s) => (s.spec as any).staticUsernamePassword.password)).toEqual(['same-secret', '${secret:stale-password}']);
  });

  it('turns flows into steps that expect what happened', () => {
    expect(flowStep(event({ host: 'api.internal.example.com', protocol: 'tls', route: 'proxy', outcome: 'error', error_step: 'proxy_reply', proxy_target_atyp: 'domain', proxy_reply_code: 8 }), 'sb-1', true)).toEqual({
      name: 'tls api.internal.example.com:443 (recorded flow tcp-1)',
      sandbox: 'sb-1',
      connect: { host: 'api.internal.example.com', ip: '198.18.0.10', port: 443, send: 'tls' },
      expect: { decision: 'allow', action: 'use-adapter', reason: 'allowed', route: 'proxy', outcome: 'error', errorStep: 'proxy_reply', proxyTarget: { atyp: 'domain' }, proxy: { replyCode: 8 } },
    });
    expect(flowStep(event({ dest_ip: '', host: 'db.corp.example.com', dest_port: 5432, action: 'deny', reason: 'sandbox_resolution_failed', outcome: 'error', classifier_result: 'unknown' }), 'sb-1', true)).toMatchObject({
      connect: { host: 'db.corp.example.com', port: 5432, send: 'raw' },
      expect: { flowStarts: false, reason: 'sandbox_resolution_failed' },
    });
    expect(flowStep(event({ transport: 'udp', host: 'api.internal.example.com', protocol: 'udp', action: 'deny', reason: 'quic_not_proxied', outcome: 'denied' }), 'sb-1', true)).toMatchObject({
      quic: { host: 'api.internal.example.com', port: 443 },
      expect: { decision: 'deny', outcome: 'rejected', proxy: { reached: false } },
    });
    // A datagram without a name (DNS, anything but a QUIC Initial) cannot be made again as a step.
    expect(flowStep(event({ transport: 'udp', host: undefined, protocol: 'dns', dest_port: 53 }), 'sb-1', true)).toBeUndefined();
  });
});
