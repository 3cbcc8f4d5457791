import { beforeAll, describe, expect, it } from 'vitest';
import { api, useEmulator } from '../../helpers/emulator.js';

/**
 * Validation messages (upstream network_policy_validation.go; the full list is fixtures/validation/, run by validation.golden.test.ts) (A traffic, B bindings, C proxy, C′ credentialRules),
 * driven through `PUT /api/v1/sandboxes/{id}/network`, wrapped as upstream wraps them.
 */
const emu = useEmulator();
const client = api(() => emu.current);
let sandboxId = '';

beforeAll(async () => {
  const res = await client.post('/api/v1/sandboxes', { template: 'default' });
  sandboxId = res.json.data.sandbox_id;
});

const up = (ref: string) => ({ ref, sourceRef: 'src', projection: { type: 'username_password', usernamePassword: {} } });
const rule = (extra: Record<string, unknown>) => ({ name: 'r', action: 'allow', domains: ['a.example.com'], ...extra });
const withRules = (...trafficRules: unknown[]) => ({ mode: 'block-all', egress: { trafficRules } });

const cases: { name: string; body: unknown; message: string }[] = [
  // A. traffic policy
  { name: 'rules + legacy', body: { mode: 'block-all', egress: { trafficRules: [rule({})], allowedDomains: ['x.com'] } }, message: 'egress trafficRules cannot be combined with legacy allowed*/denied* fields' },
  { name: 'rules + legacy ports', body: { mode: 'allow-all', egress: { trafficRules: [rule({})], deniedPorts: [{ port: 22 }] } }, message: 'egress trafficRules cannot be combined with legacy allowed*/denied* fields' },
  { name: 'unsupported action', body: withRules(rule({ action: 'Allow' })), message: 'egress traffic rule "r" has unsupported action "Allow"' },
  { name: 'empty action, unnamed rule', body: withRules({ action: '', domains: ['a.com'] }), message: 'egress traffic rule "" has unsupported action ""' },
  { name: 'no matcher', body: withRules({ name: 'empty', action: 'deny' }), message: 'egress traffic rule "empty" must define at least one matcher' },
  { name: 'no matcher (empty lists)', body: withRules({ name: 'e', action: 'deny', cidrs: [], domains: [] }), message: 'egress traffic rule "e" must define at least one matcher' },
  { name: 'bare IP is not a CIDR', body: withRules(rule({ cidrs: ['198.18.0.1'] })), message: 'egress traffic rule "r" is invalid: invalid CIDR "198.18.0.1"' },
  { name: 'garbage CIDR', body: withRules(rule({ cidrs: ['198.18.0.0/40'] })), message: 'egress traffic rule "r" is invalid: invalid CIDR "198.18.0.0/40"' },
  { name: 'bare wildcard', body: withRules(rule({ domains: [' *. '] })), message: 'egress traffic rule "r" is invalid: invalid wildcard domain " *. "' },
  { name: 'port 0', body: withRules(rule({ ports: [{ port: 0 }] })), message: 'egress traffic rule "r" is invalid: invalid port 0' },
  { name: 'port too big', body: withRules(rule({ ports: [{ port: 70000 }] })), message: 'egress traffic rule "r" is invalid: invalid port 70000' },
  { name: 'end port below port', body: withRules(rule({ ports: [{ port: 443, endPort: 80 }] })), message: 'egress traffic rule "r" is invalid: invalid end port 80' },
  { name: 'end port too big', body: withRules(rule({ ports: [{ port: 443, endPort: 65536 }] })), message: 'egress traffic rule "r" is invalid: invalid end port 65536' },
  { name: 'unsupported port protocol', body: withRules(rule({ ports: [{ port: 443, protocol: 'sctp' }] })), message: 'egress traffic rule "r" is invalid: unsupported protocol "sctp"' },
  { name: 'unsupported app protocol', body: withRules(rule({ appProtocols: ['postgres'] })), message: 'egress traffic rule "r" is invalid: unsupported app protocol "postgres"' },
  { name: 'duplicate rule name', body: withRules(rule({}), rule({})), message: 'duplicate egress traffic rule name "r"' },
  { name: 'protocol rule: bad protocol', body: { mode: 'allow-all', egress: { protocolRules: [{ name: 'p', protocol: 'ftp' }] } }, message: 'egress protocol rule "p" is invalid: unsupported protocol "ftp"' },
  { name: 'protocol rule: http needs http', body: { mode: 'allow-all', egress: { protocolRules: [{ name: 'p', protocol: 'http' }] } }, message: 'egress protocol rule "p" is invalid: http config is required' },
  { name: 'protocol rule: mcp forbids http', body: { mode: 'allow-all', egress: { protocolRules: [{ name: 'p', protocol: 'mcp', mcp: {}, http: {} }] } }, message: 'egress protocol rule "p" is invalid: http config is not supported for mcp protocol rules' },
  { name: 'protocol rule: bad tlsMode', body: { mode: 'allow-all', egress: { protocolRules: [{ name: 'p', protocol: 'http', http: {}, tlsMode: 'passthrough' }] } }, message: 'egress protocol rule "p" is invalid: unsupported tlsMode "passthrough"' },
  { name: 'protocol rule: udp port', body: { mode: 'allow-all', egress: { protocolRules: [{ name: 'p', protocol: 'http', http: {}, ports: [{ port: 53, protocol: 'udp' }] }] } }, message: 'egress protocol rule "p" is invalid: unsupported protocol "udp"' },
  { name: 'protocol rule: duplicate', body: { mode: 'allow-all', egress: { protocolRules: [{ name: 'p', protocol: 'http', http: {} }, { name: 'p', protocol: 'mcp', mcp: {} }] } }, message: 'duplicate egress protocol rule name "p"' },
  // B. credential bindings
  { name: 'binding without ref', body: { mode: 'allow-all', credentialBindings: [{ ...up('x'), ref: '' }] }, message: 'credential binding ref is required' },
  { name: 'binding blank sourceRef', body: { mode: 'allow-all', credentialBindings: [{ ...up('x'), sourceRef: '   ' }] }, message: 'credential binding sourceRef is required for "x"' },
  { name: 'username_password without object', body: { mode: 'allow-all', credentialBindings: [{ ref: 'x', sourceRef: 's', projection: { type: 'username_password' } }] }, message: 'credential binding projection.usernamePassword is required for "x"' },
  { name: 'http_headers blank name', body: { mode: 'allow-all', credentialBindings: [{ ref: 'x', sourceRef: 's', projection: { type: 'http_headers', httpHeaders: { headers: [{ name: ' ', valueTemplate: 'v' }] } } }] }, message: 'credential binding projected header name is required for "x"' },
  { name: 'placeholder duplicate location', body: { mode: 'allow-all', credentialBindings: [{ ref: 'x', sourceRef: 's', projection: { type: 'placeholder_substitution', placeholderSubstitution: { replacements: [{ placeholder: 'P', valueTemplate: 'v', locations: ['header', 'header'] }] } } }] }, message: 'credential binding placeholder "P" has duplicate location "header" for "x"' },
  { name: 'tls_client_certificate without object', body: { mode: 'allow-all', credentialBindings: [{ ref: 'x', sourceRef: 's', projection: { type: 'tls_client_certificate' } }] }, message: 'credential binding projection.tlsClientCertificate is required for "x"' },
  { name: 'ssh_proxy without keys', body: { mode: 'allow-all', credentialBindings: [{ ref: 'x', sourceRef: 's', projection: { type: 'ssh_proxy', sshProxy: { upstreamUsername: 'git' } } }] }, message: 'credential binding projection.sshProxy sandboxPublicKeys is required for "x"' },
  { name: 'unknown projection type', body: { mode: 'allow-all', credentialBindings: [{ ref: 'x', sourceRef: 's', projection: { type: 'oauth' } }] }, message: 'credential binding projection type "oauth" is not supported for "x"' },
  { name: 'bad cache ttl', body: { mode: 'allow-all', credentialBindings: [{ ...up('x'), cachePolicy: { ttl: '5 minutes' } }] }, message: 'credential binding cachePolicy ttl is invalid for "x": time: unknown unit " minutes" in duration "5 minutes"' },
  { name: 'ttl without unit', body: { mode: 'allow-all', credentialBindings: [{ ...up('x'), cachePolicy: { ttl: '300' } }] }, message: 'credential binding cachePolicy ttl is invalid for "x": time: missing unit in duration "300"' },
  { name: 'duplicate binding ref', body: { mode: 'allow-all', credentialBindings: [up('x'), up('x')] }, message: 'duplicate credential binding ref "x"' },
  // C. proxy
  { name: 'proxy type case-sensitive', body: { mode: 'allow-all', egress: { proxy: { type: 'SOCKS5', address: 'p:1080' } } }, message: 'egress proxy type "SOCKS5" is not supported' },
  { name: 'proxy type empty', body: { mode: 'allow-all', egress: { proxy: { address: 'p:1080' } } }, message: 'egress proxy type "" is not supported' },
  { name: 'proxy address blank', body: { mode: 'allow-all', egress: { proxy: { type: 'socks5', address: ' ' } } }, message: 'egress proxy address is required' },
  { name: 'proxy credentialRef unknown', body: { mode: 'allow-all', egress: { proxy: { type: 'socks5', address: 'p:1080', credentialRef: 'nope' } } }, message: 'egress proxy credentialRef "nope" not found' },
  { name: 'proxy credentialRef wrong projection', body: { mode: 'allow-all', egress: { proxy: { type: 'socks5', address: 'p:1080', credentialRef: 'h' } }, credentialBindings: [{ ref: 'h', sourceRef: 's', projection: { type: 'tls_client_certificate', tlsClientCertificate: {} } }] }, message: 'egress proxy credentialRef "h" requires username_password projection' },
  // C′. credentialRules
  { name: 'credential rule without ref', body: { mode: 'allow-all', egress: { credentialRules: [{ name: 'c' }] } }, message: 'egress rule credentialRef is required' },
  { name: 'credential rule unknown ref', body: { mode: 'allow-all', egress: { credentialRules: [{ name: 'c', credentialRef: 'nope' }] } }, message: 'egress rule credentialRef "nope" not found' },
  { name: 'credential rule socks5 needs username_password', body: { mode: 'allow-all', egress: { credentialRules: [{ name: 'c', credentialRef: 'h', protocol: 'socks5' }] }, credentialBindings: [{ ref: 'h', sourceRef: 's', projection: { type: 'http_headers', httpHeaders: { headers: [{ name: 'A', valueTemplate: 'b' }] } } }] }, message: 'egress rule "c" with protocol socks5 requires username_password projection on "h"' },
  { name: 'credential rule duplicate name', body: { mode: 'allow-all', egress: { credentialRules: [{ name: 'c', credentialRef: 'x', protocol: 'redis' }, { name: 'c', credentialRef: 'x', protocol: 'redis' }] }, credentialBindings: [up('x')] }, message: 'duplicate egress rule name "c"' },
];

describe('PUT /network validation messages (reference §2)', () => {
  it.each(cases)('$name', async ({ body, message }) => {
    const res = await client.put(`/api/v1/sandboxes/${sandboxId}/network`, body);
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ success: false, error: { code: 'bad_request', message: `update pod annotations: invalid network policy: ${message}` } });
  });

  it('checks the mode before the sandbox exists (400 mode is required, even for an unknown sandbox)', async () => {
    const res = await client.put('/api/v1/sandboxes/sb-unknown/network', { egress: {} });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toBe('mode is required');
    const unknown = await client.put('/api/v1/sandboxes/sb-unknown/network', { mode: 'allow-all' });
    expect(unknown.status).toBe(404);
  });

  it('does not validate legacy lists (upstream accepts a bad legacy CIDR with 200)', async () => {
    const res = await client.put(`/api/v1/sandboxes/${sandboxId}/network`, { mode: 'allow-all', egress: { deniedCidrs: ['not-a-cidr'], deniedPorts: [{ port: 0 }] } });
    expect(res.status).toBe(200);
  });

  it('does no host:port syntax check on the proxy address (200, ctld rejects it later)', async () => {
    const res = await client.put(`/api/v1/sandboxes/${sandboxId}/network`, { mode: 'allow-all', egress: { proxy: { type: 'socks5', address: 'proxy.example.com' } } });
    expect(res.status).toBe(200);
    expect(res.json.data.egress.proxy.address).toBe('proxy.example.com');
  });

  it('answers a missing credential source with upstream\'s 500', async () => {
    const res = await client.put(`/api/v1/sandboxes/${sandboxId}/network`, { mode: 'allow-all', credentialBindings: [up('x')] });
    expect(res.status).toBe(500);
    expect(res.json.error).toEqual({
      code: 'internal_error',
      message: 'failed to update network policy: update pod annotations: stage credential bindings: credential source "src" not found',
    });
  });
});
