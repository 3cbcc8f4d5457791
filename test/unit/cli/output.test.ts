import { describe, expect, it } from 'vitest';
import { formatJson, formatOutput, formatYaml } from '../../../src/cli/s0/output.js';
import {
  claimedSandboxTable,
  credentialSourceListTable,
  credentialSourceTable,
  formatTimestamp,
  networkPolicyTable,
  renderTable,
  sandboxListTable,
  sandboxTable,
} from '../../../src/cli/s0/table.js';
import { apiErrorFromResponse, createS0Client, S0ApiError, S0TransportError } from '../../../src/cli/s0/api-client.js';

describe('json and yaml output (as the official CLI encodes them)', () => {
  it('json: two-space indent, trailing newline, Go HTML-safe escapes', () => {
    expect(formatJson({ a: '<b>&', n: [1] })).toBe('{\n  "a": "\\u003cb\\u003e\\u0026",\n  "n": [\n    1\n  ]\n}\n');
    expect(formatJson(undefined)).toBe('null\n');
  });

  it('yaml: keys sorted, two-space indent, long strings not folded', async () => {
    const long = 'x'.repeat(120);
    expect(await formatYaml({ mode: 'block-all', egress: { proxy: { type: 'socks5', address: 'p:1' } }, note: long })).toBe(
      `egress:\n  proxy:\n    address: p:1\n    type: socks5\nmode: block-all\nnote: ${long}\n`,
    );
    expect(await formatYaml({ list: [{ b: 1, a: 2 }] })).toBe('list:\n  - a: 2\n    b: 1\n');
  });

  it('formatOutput picks the table only for table', async () => {
    expect(await formatOutput('table', { a: 1 }, () => 'T\n')).toBe('T\n');
    expect(await formatOutput('json', { a: 1 }, () => 'T\n')).toBe('{\n  "a": 1\n}\n');
    expect(await formatOutput('yaml', { a: 1 }, () => 'T\n')).toBe('a: 1\n');
  });
});

describe('table output', () => {
  it('aligns borderless columns and trims trailing space', () => {
    expect(renderTable([['ID:', 'sb-1'], ['Template ID:', 'default'], ['', '']])).toBe(' ID:           sb-1\n Template ID:  default\n\n');
    expect(renderTable([['a', 'bb']], ['LONGER', 'X'])).toBe(' LONGER  X\n a       bb\n');
  });

  it("formats times in Go's layout, in the value's own offset; '-' when absent", () => {
    expect(formatTimestamp('2026-11-27T03:42:56.123Z')).toBe('2026-11-27 03:42:56');
    expect(formatTimestamp('2026-11-27T05:42:56+02:00')).toBe('2026-11-27 05:42:56');
    expect(formatTimestamp(null)).toBe('-');
    expect(formatTimestamp('0001-01-01T00:00:00Z')).toBe('-');
  });

  it('network policy: summary rows, Go %v lists, proxy and binding count', () => {
    const text = networkPolicyTable({
      mode: 'block-all',
      egress: { allowedDomains: ['a.example', 'b.example'], trafficRules: [{}, {}], proxy: { type: 'socks5', address: 'proxy.example.com:1080', credentialRef: 'corp-proxy' } },
      credentialBindings: [{ ref: 'corp-proxy' }],
    });
    expect(text.split('\n').map((l) => l.trim().replace(/\s+/g, ' '))).toEqual([
      'Mode: block-all',
      '',
      'Egress Policy:',
      'Allowed Domains: [a.example b.example]',
      'Traffic Rules: 2',
      'Proxy: socks5 proxy.example.com:1080',
      'Proxy Credential: corp-proxy',
      '',
      'Credential Bindings: 1',
      '',
    ]);
    expect(networkPolicyTable({ mode: 'allow-all' }).trim()).toBe('Mode:  allow-all');
  });

  it('sandboxes and credential sources', () => {
    expect(claimedSandboxTable({ id: 'sb-1', template: 'default', status: 'running', pod_name: 'p' })).toContain('Pod Name:');
    expect(claimedSandboxTable({ id: 'sb-1', template: 'default', status: 'running', pod_name: '' })).not.toContain('Pod Name:');
    const s = sandboxTable({ id: 'sb-1', template_id: 'default', team_id: 't', status: 'running', paused: false, pod_name: 'p', claimed_at: '2026-01-02T03:04:05Z', expires_at: null });
    expect(s).toMatch(/Claimed At: +2026-01-02 03:04:05/);
    expect(s).toMatch(/Soft Expires At: +-/);
    expect(s).not.toContain('User ID:');
    expect(sandboxListTable({ sandboxes: [], count: 0 })).toBe('No sandboxes found.\n');
    const listed = sandboxListTable({ sandboxes: [{ id: 'sb-1', template_id: 'default', status: 'running', paused: false, created_at: '2026-01-02T03:04:05Z' }], count: 1, has_more: true });
    expect(listed.split('\n')[0]).toMatch(/^ ID +TEMPLATE ID +STATUS +PAUSED +CREATED AT +HARD EXPIRES AT$/);
    expect(listed).toContain('Total: 1 (more available)\n');
    expect(credentialSourceListTable([])).toBe('No credential sources found.\n');
    expect(credentialSourceTable({ name: 'db-auth', resolverKind: 'static_username_password' })).toMatch(/Current Version: +-\n/);
  });
});

describe('API errors, worded as the official Go SDK', () => {
  it('uses code and message from the envelope', () => {
    const err = apiErrorFromResponse(404, 'application/json', '{"success":false,"error":{"code":"not_found","message":"sandbox not found: x"}}');
    expect(err.message).toBe('sandbox0 API error (404): not_found - sandbox not found: x');
  });
  it('falls back to compact JSON, the body text, or the status text', () => {
    expect(apiErrorFromResponse(500, 'application/json', '{ "oops": 1 }').message).toBe('sandbox0 API error (500): {"oops":1}');
    expect(apiErrorFromResponse(502, 'text/plain', ' bad gateway \n').message).toBe('sandbox0 API error (502): bad gateway');
    expect(apiErrorFromResponse(503, 'text/plain', '').message).toBe('sandbox0 API error (503): Service Unavailable');
  });
  it('unwraps data, sends the bearer token, and reports transport errors like Go', async () => {
    const seen: { url: string; auth: string | null; body: unknown }[] = [];
    const fakeFetch: typeof fetch = async (input, init) => {
      seen.push({ url: String(input), auth: new Headers(init?.headers).get('authorization'), body: init?.body });
      return new Response('{"success":true,"data":{"mode":"allow-all"}}', { headers: { 'content-type': 'application/json' } });
    };
    const client = createS0Client({ apiUrl: 'http://127.0.0.1:9/', token: 'tok', fetchImpl: fakeFetch });
    expect(await client.updateNetworkPolicy('sb/1', { mode: 'allow-all' })).toEqual({ mode: 'allow-all' });
    expect(seen[0]).toEqual({ url: 'http://127.0.0.1:9/api/v1/sandboxes/sb%2F1/network', auth: 'Bearer tok', body: '{"mode":"allow-all"}' });

    const refused: typeof fetch = async () => {
      throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED', address: '127.0.0.1', port: 9, message: 'connect ECONNREFUSED 127.0.0.1:9' } });
    };
    const err = await createS0Client({ apiUrl: 'http://127.0.0.1:9', token: 't', fetchImpl: refused })
      .listCredentialSources()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(S0TransportError);
    expect((err as Error).message).toBe('Get "http://127.0.0.1:9/api/v1/credential-sources": dial tcp 127.0.0.1:9: connect: connection refused');
    const apiErr = await createS0Client({ apiUrl: 'http://127.0.0.1:9', token: 't', fetchImpl: async () => new Response('{"success":false,"error":{"code":"conflict","message":"m"}}', { status: 409, headers: { 'content-type': 'application/json' } }) })
      .deleteCredentialSource('a')
      .catch((e: unknown) => e);
    expect(apiErr).toBeInstanceOf(S0ApiError);
    expect((apiErr as S0ApiError).status).toBe(409);
  });
});
