import { describe, expect, it } from 'vitest';
import { buildProxyFromFlags, defaultProxyCredentialRef, normalizeProxyAddress } from '../../../src/cli/s0/proxy-flag.js';
import { parsePortSpec } from '../../../src/cli/s0/port-spec.js';
import { splitHostPort } from '../../../src/go/net.js';

describe('--proxy parsing (official CLI normalizeEgressProxyAddress)', () => {
  it.each([
    ['socks5://proxy.example.com:1080', 'proxy.example.com:1080'],
    ['SOCKS5://proxy.example.com:1080', 'proxy.example.com:1080'],
    ['socks5://proxy.example.com:1080/', 'proxy.example.com:1080'],
    ['socks5://proxy.example.com:1080/?#', 'proxy.example.com:1080'],
    ['proxy.example.com:1080', 'proxy.example.com:1080'],
    ['  proxy.example.com:1080  ', 'proxy.example.com:1080'],
    ['socks5://[::1]:1080', '[::1]:1080'],
    ['198.18.0.1:1080', '198.18.0.1:1080'],
  ])('accepts %s as %s', (input, address) => {
    expect(normalizeProxyAddress(input)).toBe(address);
  });

  it.each([
    ['http://proxy.example.com:1080', '--proxy only supports socks5:// endpoints'],
    ['socks5h://proxy.example.com:1080', '--proxy only supports socks5:// endpoints'],
    ['socks5://proxy.example.com:1080/path', '--proxy must not include path, query, or fragment'],
    ['socks5://proxy.example.com:1080?x=1', '--proxy must not include path, query, or fragment'],
    ['socks5://proxy.example.com:1080#frag', '--proxy must not include path, query, or fragment'],
    ['socks5://user:pass@proxy.example.com:1080', '--proxy must not include credentials; use --proxy-credential-source instead'],
    ['user@proxy.example.com:1080', '--proxy must not include credentials; use --proxy-credential-source instead'],
    ['proxy.example.com', '--proxy must be a SOCKS5 endpoint in host:port form'],
    ['socks5://proxy.example.com', '--proxy must be a SOCKS5 endpoint in host:port form'],
    [':1080', '--proxy must be a SOCKS5 endpoint in host:port form'],
    ['proxy.example.com:', '--proxy must be a SOCKS5 endpoint in host:port form'],
    ['::1:1080', '--proxy must be a SOCKS5 endpoint in host:port form'],
    ['proxy.example.com:http', 'invalid --proxy port "http": strconv.ParseInt: parsing "http": invalid syntax'],
    ['proxy.example.com:0', 'invalid --proxy port "0": must be between 1 and 65535'],
    ['proxy.example.com:70000', 'invalid --proxy port "70000": must be between 1 and 65535'],
    ['   ', '--proxy value is required'],
  ])('rejects %s', (input, message) => {
    expect(() => normalizeProxyAddress(input)).toThrow(message);
    // exact text, not a prefix
    try {
      normalizeProxyAddress(input);
    } catch (err) {
      expect((err as Error).message).toBe(message);
    }
  });

  it('builds the proxy and the username_password binding, defaulting the ref to egress-proxy', () => {
    expect(buildProxyFromFlags({ proxy: 'socks5://p.example:1080', credentialRef: '', credentialSource: 'src' })).toEqual({
      proxy: { type: 'socks5', address: 'p.example:1080', credentialRef: defaultProxyCredentialRef },
      binding: { ref: 'egress-proxy', sourceRef: 'src', projection: { type: 'username_password', usernamePassword: {} } },
    });
    expect(buildProxyFromFlags({ proxy: 'p.example:1080', credentialRef: 'corp', credentialSource: '' })).toEqual({
      proxy: { type: 'socks5', address: 'p.example:1080', credentialRef: 'corp' },
    });
    expect(buildProxyFromFlags({ proxy: 'p.example:1080', credentialRef: '', credentialSource: '' })).toEqual({ proxy: { type: 'socks5', address: 'p.example:1080' } });
    expect(buildProxyFromFlags({ proxy: '', credentialRef: '', credentialSource: '' })).toEqual({});
    expect(() => buildProxyFromFlags({ proxy: '', credentialRef: 'corp', credentialSource: '' })).toThrow('--proxy is required when proxy credential flags are provided');
    expect(() => buildProxyFromFlags({ proxy: ' ', credentialRef: '', credentialSource: 'src' })).toThrow('--proxy is required when proxy credential flags are provided');
  });
});

describe('Go net.SplitHostPort', () => {
  it('splits like Go', () => {
    expect(splitHostPort('a:1')).toEqual({ ok: true, host: 'a', port: '1' });
    expect(splitHostPort('[::1]:2')).toEqual({ ok: true, host: '::1', port: '2' });
    expect(splitHostPort(':3')).toEqual({ ok: true, host: '', port: '3' });
    expect(splitHostPort('a')).toEqual({ ok: false, message: 'address a: missing port in address' });
    expect(splitHostPort('a:b:c')).toEqual({ ok: false, message: 'address a:b:c: too many colons in address' });
    expect(splitHostPort('[::1]')).toEqual({ ok: false, message: 'address [::1]: missing port in address' });
    expect(splitHostPort('[a]b:1')).toEqual({ ok: false, message: 'address [a]b:1: missing port in address' });
  });
});

describe('port specs', () => {
  it.each([
    ['443', { port: 443 }],
    ['443/tcp', { port: 443, protocol: 'tcp' }],
    [' 53 / UDP ', { port: 53, protocol: 'udp' }],
    ['8000-8100/tcp', { port: 8000, protocol: 'tcp', endPort: 8100 }],
    ['10-10', { port: 10, endPort: 10 }],
  ])('parses %s', (input, spec) => {
    expect(parsePortSpec(input)).toEqual(spec);
  });

  it.each([
    ['', 'value is required'],
    ['/tcp', 'port is required'],
    ['443/sctp', 'protocol must be tcp or udp'],
    ['https', 'invalid start port "https": strconv.ParseInt: parsing "https": invalid syntax'],
    ['0', 'invalid start port "0": must be between 1 and 65535'],
    ['80-x', 'invalid end port "x": strconv.ParseInt: parsing "x": invalid syntax'],
    ['90-80', 'end port 80 must be greater than or equal to start port 90'],
  ])('rejects %j', (input, message) => {
    expect(() => parsePortSpec(input)).toThrow(message);
  });
});
