import { expect } from 'vitest';

/**
 * The Sandbox0 egress-proxy docs' policy (block-all; rule `allow-private-api` for
 * api.internal.example.com:443/tcp over TLS; SOCKS5 proxy.example.com:1080 with credentialRef
 * `corp-proxy` bound to a username_password source), typed so the official SDK accepts it.
 */
export function docsPolicy(sourceRef: string, { ref = 'corp-proxy', mode = 'block-all' as 'block-all' | 'allow-all' } = {}) {
  return {
    mode,
    egress: {
      trafficRules: [
        {
          name: 'allow-private-api',
          action: 'allow' as const,
          domains: ['api.internal.example.com'],
          ports: [{ port: 443, protocol: 'tcp' }],
          appProtocols: ['tls' as const],
        },
      ],
      proxy: { type: 'socks5' as const, address: 'proxy.example.com:1080', credentialRef: ref },
    },
    credentialBindings: [{ ref, sourceRef, projection: { type: 'username_password' as const, usernamePassword: {} } }],
  };
}

/** What `api()` in helpers/emulator.ts returns (only the calls used here). */
interface JsonClient {
  post(path: string, body?: unknown): Promise<{ status: number; json: any }>;
  put(path: string, body?: unknown): Promise<{ status: number; json: any }>;
}

/** Through the HTTP API: a username/password source `src` for the test proxy's user, a sandbox, the docs' policy. */
export async function createDocsSandbox(client: JsonClient): Promise<string> {
  await client.post('/api/v1/credential-sources', { name: 'src', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'proxy-user', password: 'proxy-pass' } } });
  const id = (await client.post('/api/v1/sandboxes', { template: 'default' })).json.data.sandbox_id as string;
  const put = await client.put(`/api/v1/sandboxes/${id}/network`, docsPolicy('src'));
  expect(put.status).toBe(200);
  return id;
}
