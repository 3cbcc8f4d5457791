import { Client } from 'sandbox0';
import { fileTenant } from 'sandbox-egress-emulator/vitest';
import { describe, expect, inject, it } from 'vitest';

/**
 * The Sandbox0 docs' egress-proxy example, against the emulator the global setup started: a credential
 * source for the corporate proxy, a sandbox, a block-all policy that allows only the internal API
 * through the SOCKS5 proxy, and the policy read back.
 */
const emulator = inject('sandboxEgressEmulator');
// This file's tenant: its own team on the shared emulator.
const client = new Client({ token: fileTenant().token, baseUrl: fileTenant().apiUrl });

describe('egress policy through the corporate proxy', () => {
  it('applies the docs policy and reads it back', async () => {
    await client.credentialSources.create({
      name: 'corp-proxy-source',
      resolverKind: 'static_username_password',
      spec: { staticUsernamePassword: { username: emulator.proxy!.username, password: emulator.proxy!.password } },
    });
    const sandbox = await client.sandboxes.claim('default');
    const policy = {
      mode: 'block-all' as const,
      egress: {
        trafficRules: [
          { name: 'allow-private-api', action: 'allow' as const, domains: ['api.internal.example.com'], ports: [{ port: 443, protocol: 'tcp' as const }], appProtocols: ['tls' as const] },
        ],
        proxy: { type: 'socks5' as const, address: emulator.proxy!.address, credentialRef: 'corp-proxy' },
      },
      credentialBindings: [{ ref: 'corp-proxy', sourceRef: 'corp-proxy-source', projection: { type: 'username_password' as const, usernamePassword: {} } }],
    };
    await sandbox.updateNetworkPolicy(policy);

    const readBack = await sandbox.getNetworkPolicy();
    expect(readBack.mode).toBe('block-all');
    expect(readBack.egress?.proxy).toEqual({ type: 'socks5', address: emulator.proxy!.address, credentialRef: 'corp-proxy' });
    expect(readBack.egress?.trafficRules?.[0]).toMatchObject({ name: 'allow-private-api', domains: ['api.internal.example.com'] });
    // A tenant of its own: the other file's sandbox (and its same-named source) are not visible.
    expect((await client.sandboxes.list()).count).toBe(1);
  });
});
