/**
 * Go's `net.SplitHostPort` and `net.JoinHostPort`, which the official CLI uses to check `--proxy`;
 * matching them keeps the same inputs accepted and rejected.
 */
export function splitHostPort(hostport: string): { host: string; port: string } {
  const missingPort = () => new Error(`address ${hostport}: missing port in address`);
  const tooManyColons = () => new Error(`address ${hostport}: too many colons in address`);
  const lastColon = hostport.lastIndexOf(':');
  if (lastColon < 0) throw missingPort();
  let host: string;
  let j = 0;
  let k = 0;
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']');
    if (end < 0) throw new Error(`address ${hostport}: missing ']' in address`);
    if (end + 1 === hostport.length) throw missingPort();
    if (end + 1 !== lastColon) {
      if (hostport[end + 1] === ':') throw tooManyColons();
      throw missingPort();
    }
    host = hostport.slice(1, end);
    j = 1;
    k = end + 1;
  } else {
    host = hostport.slice(0, lastColon);
    if (host.includes(':')) throw tooManyColons();
  }
  if (hostport.indexOf('[', j) >= 0) throw new Error(`address ${hostport}: unexpected '[' in address`);
  if (hostport.indexOf(']', k) >= 0) throw new Error(`address ${hostport}: unexpected ']' in address`);
  return { host, port: hostport.slice(lastColon + 1) };
}

export function joinHostPort(host: string, port: string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
