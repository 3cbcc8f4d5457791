/**
 * The first request on the explicit HTTP proxy ingress (pure): `CONNECT host:port` opens a tunnel;
 * an absolute-form request (`GET http://host/ HTTP/1.1`, what programs send for plain-http URLs
 * through `http_proxy`) is forwarded as is, its bytes becoming the start of the flow.
 */
export const maxProxyHeadBytes = 64 * 1024;

export type HttpProxyRequest =
  | { kind: 'need-more' }
  | { kind: 'connect'; host: string; port: number; headLength: number }
  | { kind: 'forward'; host: string; port: number }
  | { kind: 'invalid'; status: 400 | 405 | 431; message: string };

const HEAD_END = Buffer.from('\r\n\r\n');
const tokenRe = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function splitAuthority(authority: string, defaultPort: number): { host: string; port: number } | undefined {
  const m = /^\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?$/.exec(authority) ?? /^([^:[\]/?#@\s]+)(?::(\d{1,5}))?$/.exec(authority);
  if (!m) return undefined;
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1]!.toLowerCase(), port };
}

export function parseHttpProxyRequest(buf: Buffer): HttpProxyRequest {
  const end = buf.indexOf(HEAD_END);
  if (end < 0) {
    return buf.length >= maxProxyHeadBytes ? { kind: 'invalid', status: 431, message: 'request head too large' } : { kind: 'need-more' };
  }
  const firstLineEnd = buf.indexOf('\r\n');
  const line = buf.subarray(0, firstLineEnd).toString('latin1');
  const parts = line.split(' ');
  if (parts.length !== 3 || !tokenRe.test(parts[0]!) || !/^HTTP\/1\.[01]$/.test(parts[2]!)) {
    return { kind: 'invalid', status: 400, message: 'malformed request line' };
  }
  const [method, target] = parts as [string, string, string];
  if (method === 'CONNECT') {
    const hp = splitAuthority(target, 0);
    if (!hp || hp.port === 0) return { kind: 'invalid', status: 400, message: 'CONNECT needs host:port' };
    return { kind: 'connect', ...hp, headLength: end + HEAD_END.length };
  }
  const abs = /^http:\/\/([^/?#]+)/i.exec(target);
  if (!abs) return { kind: 'invalid', status: 405, message: 'only CONNECT and absolute-form http:// requests are proxied' };
  const hp = splitAuthority(abs[1]!, 80);
  if (!hp) return { kind: 'invalid', status: 400, message: 'bad host in request target' };
  return { kind: 'forward', ...hp };
}
