import { describe, expect, it } from 'vitest';
import { buildNetworkPolicy, emptyNetworkUpdateOptions, parseNetworkPolicyFile, type NetworkUpdateOptions } from '../../../src/cli/s0/network-policy-builder.js';

const noFile = async (path: string): Promise<string> => {
  throw new Error(`unexpected read of ${path}`);
};
const build = (o: Partial<NetworkUpdateOptions>, read = noFile) => buildNetworkPolicy({ ...emptyNetworkUpdateOptions(), ...o }, read);

describe('sandbox network update policy builder (official CLI rules)', () => {
  it('builds the docs command exactly: legacy allow lists, the proxy, and one username_password binding', async () => {
    const policy = await build({
      mode: 'block-all',
      allowedDomains: ['api.internal.example.com'],
      allowedPorts: ['443/tcp'],
      proxy: 'socks5://proxy.example.com:1080',
      proxyCredentialRef: 'corp-proxy',
      proxyCredentialSource: 'corp-proxy-source',
    });
    expect(policy).toEqual({
      mode: 'block-all',
      egress: {
        allowedDomains: ['api.internal.example.com'],
        allowedPorts: [{ port: 443, protocol: 'tcp' }],
        proxy: { type: 'socks5', address: 'proxy.example.com:1080', credentialRef: 'corp-proxy' },
      },
      credentialBindings: [{ ref: 'corp-proxy', sourceRef: 'corp-proxy-source', projection: { type: 'username_password', usernamePassword: {} } }],
    });
  });

  it('sends only the mode when nothing else is given (no egress, no credentialBindings key)', async () => {
    const policy = await build({ mode: 'allow-all' });
    expect(policy).toEqual({ mode: 'allow-all' });
    expect('credentialBindings' in policy).toBe(false);
  });

  it('--proxy-credential-ref alone sets credentialRef and leaves credentialBindings out', async () => {
    const policy = await build({ mode: 'block-all', proxy: 'proxy.example.com:1080', proxyCredentialRef: 'corp-proxy' });
    expect(policy.egress?.proxy).toEqual({ type: 'socks5', address: 'proxy.example.com:1080', credentialRef: 'corp-proxy' });
    expect(policy.credentialBindings).toBeUndefined();
  });

  it('parses --traffic-rule / --credential-binding as JSON or YAML and appends the proxy binding after them', async () => {
    const policy = await build({
      mode: 'block-all',
      trafficRules: ['{"name":"api","action":"allow","domains":["api.internal.example.com"],"ports":[{"port":443,"protocol":"tcp"}]}', 'action: deny\ncidrs: [198.18.0.0/15]'],
      credentialBindings: ['ref: other\nsourceRef: other-src\nprojection: {type: http_headers}'],
      proxy: 'proxy.example.com:1080',
      proxyCredentialSource: 'corp-proxy-source',
    });
    expect(policy.egress?.trafficRules).toEqual([
      { name: 'api', action: 'allow', domains: ['api.internal.example.com'], ports: [{ port: 443, protocol: 'tcp' }] },
      { action: 'deny', cidrs: ['198.18.0.0/15'] },
    ]);
    expect(policy.egress?.proxy?.credentialRef).toBe('egress-proxy');
    expect(policy.credentialBindings?.map((b) => b.ref)).toEqual(['other', 'egress-proxy']);
  });

  it('reads -f from the reader and validates it', async () => {
    const read = async (p: string) => (p === 'policy.yaml' ? 'mode: block-all\negress:\n  trafficRules:\n    - action: allow\n      domains: [a.example]\n' : '');
    expect(await build({ policyFile: 'policy.yaml' }, read)).toEqual({ mode: 'block-all', egress: { trafficRules: [{ action: 'allow', domains: ['a.example'] }] } });
    await expect(build({ policyFile: 'x' }, async () => 'egress: {}')).rejects.toThrow('parse network policy file: error unmarshaling JSON: decode SandboxNetworkPolicy: invalid: mode (field required)');
    await expect(build({ policyFile: 'x' }, async () => 'mode: [')).rejects.toThrow(/^parse network policy file: error converting YAML to JSON: yaml: /);
    await expect(build({ policyFile: 'x' }, async () => 'mode: open')).rejects.toThrow('invalid network policy: invalid: mode (invalid value: open)');
    await expect(
      build({ policyFile: 'x' }, async () => JSON.stringify({ mode: 'block-all', egress: { allowedDomains: ['a'], trafficRules: [{ action: 'allow' }] } })),
    ).rejects.toThrow('egress trafficRules cannot be combined with legacy allowed*/denied* fields');
  });

  it.each<[Partial<NetworkUpdateOptions>, string]>([
    [{}, '--mode is required unless --policy-file is provided'],
    [{ mode: '   ' }, '--mode is required unless --policy-file is provided'],
    [{ allowedDomains: ['a.example'] }, '--mode is required unless --policy-file is provided'],
    [{ policyFile: 'p.yaml', mode: 'block-all' }, '--policy-file cannot be combined with other network update flags'],
    [{ policyFile: 'p.yaml', proxy: 'p:1' }, '--policy-file cannot be combined with other network update flags'],
    [{ policyFile: 'p.yaml', proxyCredentialSource: 's' }, '--policy-file cannot be combined with other network update flags'],
    [{ policyFile: 'p.yaml', credentialBindings: ['{}'] }, '--policy-file cannot be combined with other network update flags'],
    [{ mode: 'block-all', trafficRules: ['action: allow'], allowedDomains: ['a'] }, '--traffic-rule cannot be combined with legacy allow/deny flags'],
    [{ mode: 'block-all', trafficRules: ['action: allow'], deniedPorts: ['22'] }, '--traffic-rule cannot be combined with legacy allow/deny flags'],
    [{ mode: 'block-all', allowedPorts: ['https'] }, 'parse --allow-port: invalid start port "https": strconv.ParseInt: parsing "https": invalid syntax'],
    [{ mode: 'block-all', deniedPorts: ['22/icmp'] }, 'parse --deny-port: protocol must be tcp or udp'],
    [{ mode: 'block-all', trafficRules: ['name: x'] }, 'parse --traffic-rule value: error unmarshaling JSON: decode TrafficRule: invalid: action (field required)'],
    [{ mode: 'block-all', trafficRules: ['just-a-string'] }, 'parse --traffic-rule value: error unmarshaling JSON: decode TrafficRule: expected a JSON/YAML object'],
    [{ mode: 'block-all', credentialBindings: ['ref: a'] }, 'parse --credential-binding value: error unmarshaling JSON: decode CredentialBinding: invalid: sourceRef (field required), projection (field required)'],
    [{ mode: 'block-all', protocolRules: ['{}'] }, 'parse --protocol-rule value: error unmarshaling JSON: decode ProtocolRule: invalid: protocol (field required)'],
    [{ mode: 'block-all', credentialRules: ['{}'] }, 'parse --credential-rule value: error unmarshaling JSON: decode EgressCredentialRule: invalid: credentialRef (field required)'],
    [{ mode: 'block-all', proxyCredentialRef: 'corp' }, '--proxy is required when proxy credential flags are provided'],
    [{ mode: 'block-all', proxy: 'http://p:1' }, '--proxy only supports socks5:// endpoints'],
    [
      { mode: 'block-all', proxy: 'p:1080', proxyCredentialSource: 'src', credentialBindings: ['{ref: egress-proxy, sourceRef: s, projection: {type: username_password}}'] },
      'credential binding "egress-proxy" is already provided',
    ],
    [
      { mode: 'block-all', proxy: 'p:1080', proxyCredentialRef: 'corp-proxy', proxyCredentialSource: 'src', credentialBindings: ['{ref: corp-proxy, sourceRef: s, projection: {type: username_password}}'] },
      'credential binding "corp-proxy" is already provided',
    ],
    [{ mode: 'open' }, 'invalid network policy: invalid: mode (invalid value: open)'],
    [{ mode: 'block-all', trafficRules: ['action: permit'] }, 'invalid network policy: invalid: egress (invalid: trafficRules (invalid: [0] (invalid: action (invalid value: permit))))'],
  ])('rejects %j', async (options, message) => {
    const err = await build(options).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toBe(message);
  });

  it('parses a whole policy file in JSON as well', async () => {
    await expect(parseNetworkPolicyFile('{"mode":"allow-all","credentialBindings":[]}')).resolves.toEqual({ mode: 'allow-all', credentialBindings: [] });
  });
});
