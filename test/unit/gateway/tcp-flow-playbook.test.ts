import { beforeAll, describe, expect, it } from 'vitest';
import { classifyTcp } from '../../../src/classify/classify-tcp.js';
import { ControlPlaneEvents } from '../../../src/control-plane/events.js';
import type { NetworkPolicyService } from '../../../src/control-plane/network-policies.js';
import { PlatformDnsView } from '../../../src/dns/views.js';
import { createDecider } from '../../../src/gateway/decide.js';
import { tcpFlowClassification } from '../../../src/gateway/flow-classification.js';
import { createPolicyCache } from '../../../src/gateway/policy-cache.js';
import { httpGet, tlsClientHello } from '../../../src/gateway/probe-payloads.js';
import { planTcpFlow, type FlowPlan } from '../../../src/gateway/tcp-flow-core.js';
import { compilePlatform } from '../../../src/policy/platform.js';
import type { SandboxNetworkPolicy } from '../../../src/policy/types.js';
import { Socks5ClientHandshake } from '../../../src/socks5/client-handshake.js';

/**
 * The TCP flow as a playbook, without sockets (as mitmproxy tests its layers): the client's first
 * bytes in → classification → verdict → the audit records and the dial request out
 * (tcp-flow-core.ts), and the SOCKS5 CONNECT the dial request becomes (socks5/client-handshake.ts).
 */
const policy: SandboxNetworkPolicy = {
  mode: 'block-all',
  egress: {
    trafficRules: [{ name: 'allow-api', action: 'allow', domains: ['api.example.com'], ports: [{ port: 443, protocol: 'tcp' }], appProtocols: ['tls'] }],
    proxy: { type: 'socks5', address: 'proxy.example.com:1080' },
  },
};

let decide: ReturnType<typeof createDecider>;
beforeAll(() => {
  const platform = compilePlatform({});
  if (!platform.ok) throw new Error('platform');
  const network = { effective: () => ({ policy, pinned: new Map<string, number>() }) } as unknown as NetworkPolicyService;
  // The platform's DNS knows the API host and the proxy; the proxy endpoint is not on this host.
  const platformDns = new PlatformDnsView({ 'api.example.com': ['198.18.0.10'], 'evil.example.net': ['198.18.0.66'], 'proxy.example.com:1080': ['203.0.113.5:1080'] });
  decide = createDecider({
    policies: createPolicyCache({ network, events: new ControlPlaneEvents() }),
    platform: () => platform.platform,
    platformDns: () => platformDns,
    sandboxIps: () => new Set(),
    udpEgress: 'reject',
    host: () => ({ addresses: new Set(), emulatorPorts: new Set() }),
  });
});

/** One flow from its first bytes to its plan. */
function play(bytes: Buffer, dst = { ip: '198.18.0.10', port: 443 }): FlowPlan {
  const result = classifyTcp(bytes);
  if (result.kind === 'need-more') throw new Error('the playbook sends whole first messages');
  const classification = tcpFlowClassification(result, () => undefined);
  const verdict = decide({ sandboxId: 'sb', sourceIp: '10.0.0.2', destIp: dst.ip, destPort: dst.port, transport: 'tcp', classification });
  return planTcpFlow({ flowId: 'f1', sourceIp: '10.0.0.2', dst, classification, verdict });
}

describe('the TCP flow playbook', () => {
  it('TLS ClientHello for api.example.com → allow via the proxy → CONNECT by name → attempt record', async () => {
    const plan = play(await tlsClientHello('api.example.com'));
    expect(plan.kind).toBe('dial');
    if (plan.kind !== 'dial') return;
    expect(plan.dial).toEqual({ route: 'proxy', proxy: { address: 'proxy.example.com:1080', host: 'proxy.example.com', port: 1080 }, target: { atyp: 'domain', host: 'api.example.com', port: 443 } });
    expect(plan.attempt).toEqual({
      flow_id: 'f1',
      src_ip: '10.0.0.2',
      dest_ip: '198.18.0.10',
      dest_port: 443,
      transport: 'tcp',
      protocol: 'tls',
      host: 'api.example.com',
      classifier_result: 'known',
      action: 'use-adapter',
      reason: 'allowed',
      outcome: 'accepted',
      matched_rule: 'allow-api',
      emulator_note: undefined,
      adapter: 'tls',
      adapter_capability: 'pass-through',
      route: 'proxy',
      proxy_address: 'proxy.example.com:1080',
      proxy_target_atyp: 'domain',
      proxy_target: 'api.example.com:443',
      auth_ref: undefined,
    });
    // The dial request on the wire: greeting, then (no-auth selected) the CONNECT with ATYP domain.
    if (plan.dial.route !== 'proxy') return;
    const client = new Socks5ClientHandshake({ target: plan.dial.target });
    expect(client.greeting()).toEqual(Buffer.from([5, 1, 0]));
    const step = client.receive(Buffer.from([5, 0]));
    expect(step).toEqual({ kind: 'continue', send: [Buffer.concat([Buffer.from([5, 1, 0, 3, 15]), Buffer.from('api.example.com'), Buffer.from([1, 187])])] });
  });

  it('a host the policy does not allow → one deny result, no dial', async () => {
    const plan = play(await tlsClientHello('evil.example.net'));
    expect(plan).toMatchObject({ kind: 'deny', result: { host: 'evil.example.net', protocol: 'tls', action: 'deny', outcome: 'denied', classifier_result: 'known' } });
    expect(plan).not.toHaveProperty('dial');
  });

  it('plain HTTP to the allowed host on port 443 → denied by the appProtocol, no dial', () => {
    const plan = play(httpGet('api.example.com'));
    expect(plan).toMatchObject({ kind: 'deny', result: { protocol: 'http', host: 'api.example.com', outcome: 'denied' } });
  });

  it('unclassifiable bytes → unknown, denied in block-all', () => {
    const plan = play(Buffer.from('\x00\x01garbage that is no protocol'));
    expect(plan).toMatchObject({ kind: 'deny', result: { classifier_result: 'unknown', protocol: 'unknown', action: 'deny' } });
  });
});
