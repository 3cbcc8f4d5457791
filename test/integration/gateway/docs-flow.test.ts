import { Client } from 'sandbox0';
import { beforeEach, describe, expect, it } from 'vitest';
import { useEmulator, waitForEvent } from '../../helpers/emulator.js';
import { docsPolicy } from '../../helpers/docs-policy.js';
import { httpsGet, sendAndCollect, viaIngress, clientHello } from '../../helpers/sandbox-client.js';

/**
 * The docs' egress-proxy flow end to end: official SDK for the control plane, a TLS client in an
 * explicit-mode sandbox, the gateway, the embedded SOCKS5 proxy with RFC 1929 auth, the customer's
 * internal API behind it.
 */
const emu = useEmulator();
const sdk = () => new Client({ token: emu.current.token, baseUrl: emu.current.apiUrl });

async function docsSandbox(password = 'proxy-pass') {
  const c = sdk();
  await c.credentialSources.create({ name: 'corp-proxy-source', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'proxy-user', password } } });
  const sandbox = await c.sandboxes.claim('default');
  await sandbox.updateNetworkPolicy(docsPolicy('corp-proxy-source'));
  const view = emu.current.sandbox(sandbox.id).view()!;
  expect(view.interception).toBe('explicit');
  return { c, sandbox, ingress: view.ingress!.socks5 };
}

/** The audit result event of one flow, once written (flows finish asynchronously after the client sees EOF). */
function resultOf(sandboxId: string, predicate: (a: Record<string, unknown>) => boolean = () => true) {
  return waitForEvent(emu.current, (e) => e.sandbox_id === sandboxId && e.phase === 'result' && predicate(e.attributes as unknown as Record<string, unknown>));
}

beforeEach(async () => {
  await emu.current.reset();
});

describe('the docs flow through the gateway and the test proxy', () => {
  it('fetches the internal API by name through the authenticated proxy and audits it', async () => {
    const { sandbox, ingress } = await docsSandbox();
    const answer = await httpsGet(await viaIngress(ingress, 'api.internal.example.com', 443), 'api.internal.example.com', '/v1/ping');
    expect(answer.status).toBe(200);
    const body = JSON.parse(answer.body);
    expect(body).toMatchObject({ service: 'api.internal.example.com', path: '/v1/ping' });

    const log = emu.current.proxy!.connections.list();
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ atyp: 'domain', host: 'api.internal.example.com', port: 443, user: 'proxy-user', method: 'username-password', replyCode: 0 });
    // The service's peer is the proxy's outbound connection, not the gateway.
    expect(body.peer).not.toBe(log[0]!.client);

    const result = await resultOf(sandbox.id);
    expect(result.attributes).toMatchObject({
      action: 'use-adapter',
      reason: 'allowed',
      outcome: 'completed',
      matched_rule: 'allow-private-api',
      protocol: 'tls',
      host: 'api.internal.example.com',
      dest_ip: '198.18.0.10',
      dest_port: 443,
      route: 'proxy',
      proxy_address: 'proxy.example.com:1080',
      proxy_target_atyp: 'domain',
      proxy_target: 'api.internal.example.com:443',
      auth_ref: 'corp-proxy',
      auth_resolved: true,
    });
    expect(result.attributes.egress_bytes).toBeGreaterThan(0);
    expect(result.attributes.ingress_bytes).toBeGreaterThan(0);
    const attempt = emu.current.flows({ sandboxId: sandbox.id }).find((e) => e.phase === 'attempt')!;
    expect(attempt.outcome).toBe('accepted');
  });

  it('denies before any proxy connection: block-all default, unknown protocol, deny rule', async () => {
    const { sandbox, ingress } = await docsSandbox();
    // block-all default: another port of the same host is not allowed.
    const wrongPort = await sendAndCollect(await viaIngress(ingress, 'api.internal.example.com', 8443), await clientHello('api.internal.example.com'));
    expect(wrongPort.received.length).toBe(0);
    // unknown protocol in block-all: raw bytes to the allowed destination.
    const unknown = await sendAndCollect(await viaIngress(ingress, 'api.internal.example.com', 443), Buffer.from('\x00\x01garbage-protocol\r\n'));
    expect(unknown.received.length).toBe(0);
    // a TLS hello for a name no rule allows.
    const other = await sendAndCollect(await viaIngress(ingress, '198.18.0.99', 443), await clientHello('evil.example.net'));
    expect(other.received.length).toBe(0);

    expect(emu.current.proxy!.connections.list()).toEqual([]);
    const denies = emu.current.flows({ sandboxId: sandbox.id }).filter((e) => e.phase === 'result');
    expect(denies.map((e) => [e.attributes.action, e.attributes.reason])).toEqual([
      ['deny', 'l4_denied'],
      ['deny', 'l4_denied'], // hostless traffic never matches a domain rule: the destination phase denies first
      ['deny', 'l4_denied'],
    ]);
    expect(emu.current.flows({ sandboxId: sandbox.id }).some((e) => e.phase === 'attempt')).toBe(false);
  });

  it('takes a credential rotation into account for new flows, without a restart', async () => {
    const { c, sandbox, ingress } = await docsSandbox('proxy-pass');
    expect((await httpsGet(await viaIngress(ingress, 'api.internal.example.com', 443), 'api.internal.example.com')).status).toBe(200);
    await c.credentialSources.update('corp-proxy-source', { name: 'corp-proxy-source', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'proxy-user', password: 'wrong-now' } } });
    const failed = await sendAndCollect(await viaIngress(ingress, 'api.internal.example.com', 443), await clientHello('api.internal.example.com'));
    expect(failed.received.length).toBe(0);
    const result = await resultOf(sandbox.id, (a) => a.outcome === 'error');
    expect(result.attributes).toMatchObject({ outcome: 'error', error_step: 'proxy_auth' });
    await c.credentialSources.update('corp-proxy-source', { name: 'corp-proxy-source', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'proxy-user', password: 'proxy-pass' } } });
    expect((await httpsGet(await viaIngress(ingress, 'api.internal.example.com', 443), 'api.internal.example.com')).status).toBe(200);
  });

  it('cannot start a flow to a customer-only name (the documented pitfall) until the sandbox can resolve it', async () => {
    const { sandbox, ingress } = await docsSandbox();
    await expect(viaIngress(ingress, 'db.corp.example.com', 443)).rejects.toThrow(/HostUnreachable/);
    expect(emu.current.proxy!.connections.list()).toEqual([]);
    const nx = emu.current.flows({ sandboxId: sandbox.id }).at(-1)!;
    expect(nx.attributes).toMatchObject({ reason: 'sandbox_resolution_failed', host: 'db.corp.example.com' });
    // With a hosts entry the flow starts and reaches the policy, which (block-all) denies it.
    emu.current.sandbox(sandbox.id).setHosts({ 'db.corp.example.com': ['198.18.0.20'] });
    const denied = await sendAndCollect(await viaIngress(ingress, 'db.corp.example.com', 443), await clientHello('db.corp.example.com'));
    expect(denied.received.length).toBe(0);
    expect((await resultOf(sandbox.id, (a) => a.dest_ip === '198.18.0.20')).attributes).toMatchObject({ action: 'deny', reason: 'l4_denied' });
  });
});
