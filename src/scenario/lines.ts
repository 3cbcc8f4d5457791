import type { NetworkAuditAttributes } from '../gateway/audit.js';
import { describeReply } from '../socks5/protocol.js';
import type { ConnectionLogEntry } from '../test-proxy/connection-log.js';

/** One-line renderings of a flow's audit event and of a test proxy log entry (pure). */

const auditFields: (keyof NetworkAuditAttributes)[] = [
  'protocol',
  'host',
  'action',
  'reason',
  'outcome',
  'matched_rule',
  'route',
  'proxy_target_atyp',
  'proxy_target',
  'auth_ref',
  'error_step',
  'error',
  'emulator_note',
];

export function auditLine(a: Partial<NetworkAuditAttributes>): string {
  const dest = a.dest_ip?.includes(':') ? `[${a.dest_ip}]` : a.dest_ip;
  const parts = [`flow ${a.flow_id ?? '?'}`, `${a.transport ?? '?'} ${dest ?? '?'}:${a.dest_port ?? '?'}`];
  for (const k of auditFields) if (a[k] !== undefined) parts.push(`${k}=${String(a[k])}`);
  if (a.proxy_reply_code !== undefined) parts.push(`proxy_reply=${describeReply(a.proxy_reply_code)}`);
  if (a.egress_bytes !== undefined || a.ingress_bytes !== undefined) parts.push(`bytes=${a.egress_bytes ?? 0}/${a.ingress_bytes ?? 0}`);
  return parts.join(' ');
}

export function proxyLine(e: ConnectionLogEntry): string {
  const parts = [`#${e.id}`];
  if (e.user !== undefined) parts.push(`user=${e.user}`);
  if (e.auth !== undefined) parts.push(`auth=${e.auth}`);
  if (e.atyp !== undefined) parts.push(`atyp=${e.atyp}`);
  if (e.host !== undefined) parts.push(`target=${e.host}:${e.port ?? '?'}`);
  if (e.upstream !== undefined) parts.push(`upstream=${e.upstream}`);
  if (e.replyCode !== undefined) parts.push(`reply=${describeReply(e.replyCode)}`);
  parts.push(`bytes=${e.bytesUp}/${e.bytesDown}`);
  if (e.closeCause !== undefined) parts.push(`close=${e.closeCause}`);
  if (e.faults?.length) parts.push(`faults=${e.faults.join(',')}`);
  if (e.error !== undefined) parts.push(`error=${e.error}`);
  return parts.join(' ');
}
