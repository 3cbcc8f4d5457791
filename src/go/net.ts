/** Go's net.SplitHostPort and net.JoinHostPort, including SplitHostPort's error texts. Pure. */

export type SplitHostPortResult = { ok: true; host: string; port: string } | { ok: false; message: string };

const MISSING_PORT = 'missing port in address';
const TOO_MANY_COLONS = 'too many colons in address';

/** Go's net.SplitHostPort; a failure carries net.AddrError's text (`address X: missing port in address`, ...). */
export function splitHostPort(hostport: string): SplitHostPortResult {
  const fail = (why: string): SplitHostPortResult => ({
    ok: false,
    message: hostport === '' ? why : `address ${hostport}: ${why}`,
  });
  const last = hostport.lastIndexOf(':');
  if (last < 0) return fail(MISSING_PORT);
  let host: string;
  let j = 0;
  let k = 0;
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']');
    if (end < 0) return fail("missing ']' in address");
    if (end + 1 === hostport.length) return fail(MISSING_PORT);
    if (end + 1 !== last) return fail(hostport[end + 1] === ':' ? TOO_MANY_COLONS : MISSING_PORT);
    host = hostport.slice(1, end);
    j = 1;
    k = end + 1;
  } else {
    host = hostport.slice(0, last);
    if (host.includes(':')) return fail(TOO_MANY_COLONS);
  }
  if (hostport.indexOf('[', j) >= 0) return fail("unexpected '[' in address");
  if (hostport.indexOf(']', k) >= 0) return fail("unexpected ']' in address");
  return { ok: true, host, port: hostport.slice(last + 1) };
}

/** Go's net.JoinHostPort: brackets around a host containing a colon (IPv6). */
export function joinHostPort(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
