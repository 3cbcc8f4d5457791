/**
 * Parses conntrack's text format: one `conntrack -E` event line, or one line of
 * /proc/<pid>/net/nf_conntrack. The original-direction tuple's dst/dport are what the sandbox
 * dialled. The peer as the gateway's listener sees it is the reply-direction tuple's dst/dport: it
 * differs from the original src/sport when the kernel remapped the source port because the
 * redirected tuple clashed with an older connection (same sandbox port, e.g. in TIME_WAIT, to
 * another destination).
 *
 *   [NEW] tcp      6 120 SYN_SENT src=10.77.0.2 dst=198.18.9.9 sport=41234 dport=443 [UNREPLIED] src=...
 *   ipv4     2 tcp      6 117 SYN_RECV src=10.77.0.2 dst=198.18.9.9 sport=41234 dport=443 src=... (proc)
 */

export type ConntrackProtocol = 'tcp' | 'udp';

export interface ConntrackEntry {
  protocol: ConntrackProtocol;
  source: { ip: string; port: number };
  destination: { ip: string; port: number };
  /** The flow's remote address on the redirected socket (reply tuple's dst/dport; source when absent). */
  peer: { ip: string; port: number };
}

const protocolPattern = /(?:^|\s)(tcp|udp)\s+\d+\s/;
const fieldPattern = /\b(src|dst|sport|dport)=(\S+)/g;
const maxFieldsScanned = 8;

/** The entry of a line, or undefined for anything else (other protocols, garbage). Never throws. */
export function parseConntrackLine(line: string): ConntrackEntry | undefined {
  const proto = protocolPattern.exec(line)?.[1];
  if (proto !== 'tcp' && proto !== 'udp') return undefined;
  type Field = 'src' | 'dst' | 'sport' | 'dport';
  const fields: Partial<Record<Field, string>> = {};
  const reply: Partial<Record<Field, string>> = {};
  fieldPattern.lastIndex = 0;
  for (let i = 0; i < maxFieldsScanned; i++) {
    const m = fieldPattern.exec(line);
    if (!m) break;
    const key = m[1] as Field;
    // The first occurrence of each field is the original tuple, the second the reply tuple.
    if (fields[key] === undefined) fields[key] = m[2];
    else if (reply[key] === undefined) reply[key] = m[2];
  }
  const sport = Number(fields.sport);
  const dport = Number(fields.dport);
  if (!fields.src || !fields.dst || !isPort(sport) || !isPort(dport)) return undefined;
  const source = { ip: fields.src, port: sport };
  const replyPort = Number(reply.dport);
  const peer = reply.dst && isPort(replyPort) ? { ip: reply.dst, port: replyPort } : source;
  return { protocol: proto, source, destination: { ip: fields.dst, port: dport }, peer };
}

const isPort = (n: number): boolean => Number.isInteger(n) && n >= 0 && n <= 65535;

export const flowKey = (protocol: ConntrackProtocol, ip: string, port: number): string => `${protocol} ${ip} ${port}`;
