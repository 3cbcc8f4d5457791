import type { CredentialBinding, EgressProxyPolicy } from '../../policy/types.js';
import { joinHostPort, splitHostPort } from '../../go/net.js';
import { goQuote } from '../../go/quote.js';
import { parsePortNumber } from './port-spec.js';

/** The binding ref used when `--proxy-credential-source` is given without `--proxy-credential-ref`. */
export const defaultProxyCredentialRef = 'egress-proxy';

/**
 * `--proxy`: `socks5://host:port` (scheme case-insensitive; a trailing run of `/`, `?`, `#` is
 * tolerated) or bare `host:port`. Messages are the official CLI's (`normalizeEgressProxyAddress`).
 */
export function normalizeProxyAddress(raw: string): string {
  let value = raw.trim();
  if (value === '') throw new Error('--proxy value is required');
  if (value.includes('://')) {
    const at = value.indexOf('://');
    const scheme = value.slice(0, at);
    if (scheme.toLowerCase() !== 'socks5') throw new Error('--proxy only supports socks5:// endpoints');
    value = value.slice(at + 3);
    const tail = value.search(/[/?#]/);
    if (tail >= 0) {
      if (value.slice(tail).replace(/^[/?#]+|[/?#]+$/g, '') !== '') throw new Error('--proxy must not include path, query, or fragment');
      value = value.slice(0, tail);
    }
  }
  if (value.includes('@')) throw new Error('--proxy must not include credentials; use --proxy-credential-source instead');
  const split = splitHostPort(value);
  if (!split.ok) throw new Error('--proxy must be a SOCKS5 endpoint in host:port form');
  const { host, port } = split;
  if (host.trim() === '' || port.trim() === '') throw new Error('--proxy must be a SOCKS5 endpoint in host:port form');
  try {
    parsePortNumber(port);
  } catch (err) {
    throw new Error(`invalid --proxy port ${goQuote(port)}: ${(err as Error).message}`);
  }
  return joinHostPort(host.trim(), port.trim());
}

function effectiveCredentialRef(credRef: string, credSource: string): string {
  const ref = credRef.trim();
  return ref === '' && credSource.trim() !== '' ? defaultProxyCredentialRef : ref;
}

export interface ProxyFlags {
  proxy: string;
  credentialRef: string;
  credentialSource: string;
}

/**
 * The egress proxy and the username/password binding the three proxy flags describe. The proxy is
 * absent when `--proxy` is not given (an error if a credential flag is); the binding is present only
 * with `--proxy-credential-source`.
 */
export function buildProxyFromFlags({ proxy, credentialRef, credentialSource }: ProxyFlags): { proxy?: EgressProxyPolicy; binding?: CredentialBinding } {
  if (proxy.trim() === '') {
    if (credentialRef.trim() !== '' || credentialSource.trim() !== '') throw new Error('--proxy is required when proxy credential flags are provided');
    return {};
  }
  const address = normalizeProxyAddress(proxy);
  const ref = effectiveCredentialRef(credentialRef, credentialSource);
  const policy: EgressProxyPolicy = { type: 'socks5', address };
  if (ref !== '') policy.credentialRef = ref;
  if (credentialSource.trim() === '') return { proxy: policy };
  return {
    proxy: policy,
    binding: { ref, sourceRef: credentialSource.trim(), projection: { type: 'username_password', usernamePassword: {} } },
  };
}
