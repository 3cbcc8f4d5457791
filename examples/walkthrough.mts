// The README walkthrough, runnable: the Sandbox0 docs' egress-proxy example with the official SDK.
// Against a running emulator (the `export` lines `sandbox-egress-emulator start` prints), or:
//   npx sandbox-egress-emulator run -- npx --yes tsx node_modules/sandbox-egress-emulator/examples/walkthrough.mts
// (tsx runs a .mts file as an ES module whatever the project's "type", so top-level await works;
// Node 20 cannot run TypeScript by itself). The JavaScript twin: node .../examples/walkthrough.mjs
import { Client } from 'sandbox0';

const baseUrl = process.env.SANDBOX0_BASE_URL ?? 'http://127.0.0.1:4780';
const token = process.env.SANDBOX0_TOKEN;
if (!token) throw new Error('set SANDBOX0_TOKEN (and SANDBOX0_BASE_URL) as `sandbox-egress-emulator start` prints them');
const client = new Client({ baseUrl, token });

/** The emulator's admin API (not part of Sandbox0): what the proxy saw, its users. */
async function admin(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${baseUrl}/_emulator${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as { success: boolean; data?: unknown; error?: { message: string } };
  if (!json.success) throw new Error(`${method} /_emulator${path}: ${json.error?.message}`);
  return json.data;
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`walkthrough: ${what}`);
  console.log(`ok   ${what}`);
}

// 1. A credential source for the proxy's username/password (secrets are write-only from here on).
const source = await client.credentialSources.create({
  name: 'corp-proxy-source',
  resolverKind: 'static_username_password',
  spec: { staticUsernamePassword: { username: 'proxy-user', password: 'proxy-pass' } },
});

// 2. A sandbox, and the docs' network policy, verbatim.
const sandbox = await client.sandboxes.claim('default');
const credentialRef = 'corp-proxy';
await sandbox.updateNetworkPolicy({
  mode: 'block-all',
  egress: {
    trafficRules: [
      {
        name: 'allow-private-api',
        action: 'allow',
        domains: ['api.internal.example.com'],
        ports: [{ port: 443, protocol: 'tcp' }],
        appProtocols: ['tls'],
      },
    ],
    proxy: { type: 'socks5', address: 'proxy.example.com:1080', credentialRef },
  },
  credentialBindings: [
    { ref: credentialRef, sourceRef: source.name!, projection: { type: 'username_password', usernamePassword: {} } },
  ],
});

// 3. Read it back: the effective policy, bindings pinned to the source's current version.
const policy = await sandbox.getNetworkPolicy();
check(policy.mode === 'block-all' && policy.egress?.proxy?.address === 'proxy.example.com:1080', 'the policy reads back as written');

// From inside the sandbox: curl reaches the internal API only through the proxy, by hostname.
const curl = 'curl -sS --max-time 10 https://api.internal.example.com/';
const first = await sandbox.cmd(curl);
check(first.exitCode === 0 && first.stdout.length > 0, `curl through the proxy (exit ${first.exitCode}${first.stderr ? `: ${first.stderr.trim()}` : ''})`);

// 4. Rotating the source bumps its version and re-pins every binding that uses it. The proxy must
// know the new credentials too (on the real platform, whoever runs the proxy changes it), or the
// sandbox's next connection fails with error_step proxy_auth: here the test proxy gets the new user.
await admin('PUT', '/proxy/users', {
  users: [
    { username: 'proxy-user', password: 'proxy-pass' },
    { username: 'rotated-user', password: 'rotated-pass' },
  ],
});
await client.credentialSources.update('corp-proxy-source', {
  name: 'corp-proxy-source',
  resolverKind: 'static_username_password',
  spec: { staticUsernamePassword: { username: 'rotated-user', password: 'rotated-pass' } },
});
const second = await sandbox.cmd(curl);
check(second.exitCode === 0, 'curl after the rotation');
const { connections } = await admin('GET', '/proxy/connections?user=rotated-user');
check(connections.some((c: { host: string; atyp: string }) => c.host === 'api.internal.example.com' && c.atyp === 'domain'), 'the proxy saw CONNECT api.internal.example.com (ATYP domain) from the rotated user');

// 5. Clean up: a source cannot be deleted while a binding references it (409).
await sandbox.updateNetworkPolicy({ mode: 'allow-all', credentialBindings: [] });
await client.credentialSources.delete('corp-proxy-source');
await client.sandboxes.delete(sandbox.id);
await admin('PUT', '/proxy/users', { users: [{ username: 'proxy-user', password: 'proxy-pass' }] });
console.log('walkthrough done');
