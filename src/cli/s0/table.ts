/**
 * The `table` output of the official CLI (`internal/output/table.go`): borderless tablewriter
 * tables, `Label:` / value rows for one object, upper-case headers for lists, `-` for missing values
 * and Go's `2006-01-02 15:04:05` time layout.
 */

type Row = readonly string[];

/** A borderless table: each cell padded by one space on both sides, columns aligned left. */
export function renderTable(rows: readonly Row[], header?: Row): string {
  const all = header ? [header, ...rows] : [...rows];
  if (all.length === 0) return '';
  const columns = Math.max(...all.map((r) => r.length));
  const widths = Array.from({ length: columns }, (_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => widths.map((w, i) => ` ${(r[i] ?? '').padEnd(w)} `).join('').trimEnd() + '\n').join('');
}

/** Go's `time.Format("2006-01-02 15:04:05")` of an RFC 3339 value, in the value's own offset; `-` when absent or zero. */
export function formatTimestamp(value: unknown): string {
  if (typeof value !== 'string' || value === '') return '-';
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})/.exec(value);
  if (!m) return value;
  if (m[1] === '0001-01-01' && m[2] === '00:00:00') return '-';
  return `${m[1]} ${m[2]}`;
}

/** Go's `%v` of a value as the table code prints it (`[a b]` for string slices). */
function goValue(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(goValue).join(' ')}]`;
  if (value === undefined || value === null) return '';
  return String(value);
}

const str = (value: unknown): string => (typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value));
const optOrDash = (value: unknown): string => (value === undefined || value === null || value === '' ? '-' : String(value));
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const obj = (value: unknown): Record<string, unknown> | undefined =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;

/** Rows of `label  value` for string fields (missing ones as empty strings). */
const labelled = (s: Record<string, unknown>, fields: readonly (readonly [label: string, key: string])[]): Row[] => fields.map(([label, key]) => [label, str(s[key])]);

/** `s0 sandbox create` (upstream formats the SDK's Sandbox: id, template, status, cluster, pod). */
export function claimedSandboxTable(s: Record<string, unknown>): string {
  const rows = labelled(s, [['ID:', 'id'], ['Template:', 'template'], ['Status:', 'status']]);
  if (typeof s.cluster_id === 'string') rows.push(['Cluster ID:', s.cluster_id]);
  if (str(s.pod_name) !== '') rows.push(['Pod Name:', str(s.pod_name)]);
  return renderTable(rows);
}

/** `s0 sandbox get`. */
export function sandboxTable(s: Record<string, unknown>): string {
  const rows = labelled(s, [['ID:', 'id'], ['Template ID:', 'template_id'], ['Team ID:', 'team_id']]);
  if (typeof s.user_id === 'string') rows.push(['User ID:', s.user_id]);
  rows.push(['Status:', str(s.status)], ['Paused:', String(s.paused === true)]);
  const memory = obj(s.resources)?.memory;
  if (typeof memory === 'string') rows.push(['Memory:', memory]);
  rows.push(
    ['Pod Name:', str(s.pod_name)],
    ['Claimed At:', formatTimestamp(s.claimed_at)],
    ['Soft Expires At:', formatTimestamp(s.expires_at)],
    ['Hard Expires At:', formatTimestamp(s.hard_expires_at)],
  );
  return renderTable(rows);
}

/** `s0 sandbox list`: the table, then `Total: N` and ` (more available)` when there is a next page. */
export function sandboxListTable(r: Record<string, unknown>): string {
  const sandboxes = list(r.sandboxes).map((s) => obj(s) ?? {});
  if (sandboxes.length === 0) return 'No sandboxes found.\n';
  const table = renderTable(
    sandboxes.map((s) => [str(s.id), str(s.template_id), str(s.status), String(s.paused === true), formatTimestamp(s.created_at), formatTimestamp(s.hard_expires_at)]),
    ['ID', 'TEMPLATE ID', 'STATUS', 'PAUSED', 'CREATED AT', 'HARD EXPIRES AT'],
  );
  return `${table}Total: ${Number(r.count ?? sandboxes.length)}${r.has_more === true ? ' (more available)' : ''}\n`;
}

/** `s0 sandbox network get|update`: mode, a summary of the egress policy, the proxy and the binding count. */
export function networkPolicyTable(p: Record<string, unknown>): string {
  const rows: Row[] = [['Mode:', str(p.mode)]];
  const egress = obj(p.egress);
  if (egress) {
    rows.push(['', ''], ['Egress Policy:', '']);
    const lists: [string, string][] = [
      ['allowedCidrs', 'Allowed CIDRs:'],
      ['allowedDomains', 'Allowed Domains:'],
      ['deniedCidrs', 'Denied CIDRs:'],
      ['deniedDomains', 'Denied Domains:'],
    ];
    for (const [key, label] of lists) if (list(egress[key]).length > 0) rows.push([label, goValue(egress[key])]);
    const counts: [string, string][] = [
      ['trafficRules', 'Traffic Rules:'],
      ['protocolRules', 'Protocol Rules:'],
      ['credentialRules', 'Credential Rules:'],
    ];
    for (const [key, label] of counts) if (list(egress[key]).length > 0) rows.push([label, String(list(egress[key]).length)]);
    const proxy = obj(egress.proxy);
    if (proxy) {
      rows.push(['Proxy:', `${str(proxy.type)} ${str(proxy.address)}`]);
      if (typeof proxy.credentialRef === 'string') rows.push(['Proxy Credential:', proxy.credentialRef]);
    }
  }
  const bindings = list(p.credentialBindings);
  if (bindings.length > 0) rows.push(['', ''], ['Credential Bindings:', String(bindings.length)]);
  return renderTable(rows);
}

/** `s0 credential get|create|update`. */
export function credentialSourceTable(s: Record<string, unknown>): string {
  return renderTable([
    ['Name:', str(s.name)],
    ['Resolver Kind:', str(s.resolverKind)],
    ['Current Version:', optOrDash(s.currentVersion)],
    ['Status:', optOrDash(s.status)],
    ['Created At:', formatTimestamp(s.createdAt)],
    ['Updated At:', formatTimestamp(s.updatedAt)],
  ]);
}

/** `s0 credential list`. */
export function credentialSourceListTable(sources: readonly Record<string, unknown>[]): string {
  if (sources.length === 0) return 'No credential sources found.\n';
  return renderTable(
    sources.map((s) => [str(s.name), str(s.resolverKind), optOrDash(s.currentVersion), optOrDash(s.status), formatTimestamp(s.createdAt), formatTimestamp(s.updatedAt)]),
    ['NAME', 'RESOLVER KIND', 'VERSION', 'STATUS', 'CREATED AT', 'UPDATED AT'],
  );
}
