import { describe, expect, it } from 'vitest';
import { api, useEmulator } from '../../helpers/emulator.js';

/** Bad input gets a clear error, never a 500 unless upstream returns one, and the server stays up. */
const emu = useEmulator();
const client = api(() => emu.current);

async function sandbox() {
  return (await client.post('/api/v1/sandboxes', { template: 'default' })).json.data.sandbox_id as string;
}

describe('bad input', () => {
  it('answers malformed JSON with 400 invalid request', async () => {
    const id = await sandbox();
    // Go's json.Decoder (gin's binding) messages for the same bytes.
    const cases: [string, string][] = [
      ['{', 'unexpected EOF'],
      ['{"mode": "allow-all",}', "invalid character '}' looking for beginning of object key string"],
      ['not json', "invalid character 'o' in literal null (expecting 'u')"],
      ['\u0000\u0001', "invalid character '\\x00' looking for beginning of value"],
    ];
    for (const [body, message] of cases) {
      const res = await client.put(`/api/v1/sandboxes/${id}/network`, body);
      expect(res.status, body).toBe(400);
      expect(res.json.error.code).toBe('bad_request');
      expect(res.json.error.message).toBe(`invalid request: ${message}`);
    }
    // The decoder reads the first value only: what follows it is never looked at.
    const trailing = await client.put(`/api/v1/sandboxes/${id}/network`, '{"mode":"allow-all"} trailing');
    expect(trailing.status).toBe(200);
    expect(trailing.json.data.mode).toBe('allow-all');
    const empty = await client.call('PUT', `/api/v1/sandboxes/${id}/network`, '');
    expect(empty.json.error.message).toBe('invalid request: EOF');
  });

  it('answers wrong JSON types with Go-style unmarshal errors', async () => {
    const id = await sandbox();
    const cases: [unknown, string][] = [
      [{ mode: 7 }, 'invalid request: json: cannot unmarshal number into Go struct field SandboxNetworkPolicy.mode of type v1alpha1.NetworkPolicyMode'],
      [{ mode: 'allow-all', egress: [] }, 'invalid request: json: cannot unmarshal array into Go struct field SandboxNetworkPolicy.egress of type v1alpha1.NetworkEgressPolicy'],
      [{ mode: 'allow-all', egress: { trafficRules: [{ action: 'allow', ports: [{ port: 'https' }] }] } }, 'invalid request: json: cannot unmarshal string into Go struct field PortSpec.egress.trafficRules.ports.port of type int32'],
      [{ mode: 'allow-all', egress: { trafficRules: [{ action: 'allow', ports: [{ port: 1.5 }] }] } }, 'invalid request: json: cannot unmarshal number 1.5 into Go struct field PortSpec.egress.trafficRules.ports.port of type int32'],
      [[1, 2], 'invalid request: json: cannot unmarshal array into Go value of type v1alpha1.SandboxNetworkPolicy'],
      ['"string"', 'invalid request: json: cannot unmarshal string into Go value of type v1alpha1.SandboxNetworkPolicy'],
    ];
    for (const [body, message] of cases) {
      const res = await client.put(`/api/v1/sandboxes/${id}/network`, typeof body === 'string' ? body : JSON.stringify(body));
      expect(res.status).toBe(400);
      expect(res.json.error.message).toBe(message);
    }
  });

  it('ignores unknown fields, as Go decoding does', async () => {
    const id = await sandbox();
    const res = await client.put(`/api/v1/sandboxes/${id}/network`, { mode: 'allow-all', surprise: { deep: [1] }, egress: { deniedDomains: ['a.example.com'], bogus: true } });
    expect(res.status).toBe(200);
    expect(res.json.data).toEqual({ mode: 'allow-all', egress: { deniedDomains: ['a.example.com'] } });
  });

  it('refuses bodies over 1 MiB with 413 and keeps serving', async () => {
    const id = await sandbox();
    const huge = JSON.stringify({ mode: 'allow-all', egress: { deniedDomains: Array.from({ length: 80_000 }, (_, i) => `host-${i}.example.com`) } });
    expect(huge.length).toBeGreaterThan(1024 * 1024);
    const res = await client.put(`/api/v1/sandboxes/${id}/network`, huge);
    expect(res.status).toBe(413);
    expect(res.json.success).toBe(false);
    expect((await client.get('/healthz')).status).toBe(200);
  });

  it('refuses a chunked body (no Content-Length) over 1 MiB with the same 413 envelope, not a reset', async () => {
    // Found by api-fuzz: reading stopped by destroying the request, which reset the connection first.
    const id = await sandbox();
    const chunk = new Uint8Array(64 * 1024).fill(0x20);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > 1024 * 1024 + chunk.length) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const res = await fetch(`${emu.current.apiUrl}/api/v1/sandboxes/${id}/network`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${emu.current.token}`, 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ success: false, error: { code: 'payload_too_large', message: 'request body too large (limit 1048576 bytes)' } });
    expect((await client.get('/healthz')).status).toBe(200);
  });

  it('survives deep nesting and huge strings without a 500', async () => {
    const id = await sandbox();
    for (const depth of [5_000, 200_000]) {
      const deep = '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
      const nested = await client.put(`/api/v1/sandboxes/${id}/network`, `{"mode":"allow-all","extra":${deep}}`);
      expect(nested.status).toBeLessThan(500);
    }
    const deepArray = await client.put(`/api/v1/sandboxes/${id}/network`, '{"mode":"allow-all","egress":{"trafficRules":' + '['.repeat(300_000) + ']'.repeat(300_000) + '}}');
    expect(deepArray.status).toBe(400);
    const longName = await client.post('/api/v1/credential-sources', { name: 'n'.repeat(500_000), resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'u', password: 'p' } } });
    expect(longName.status).toBeLessThan(500);
    expect((await client.get('/healthz')).json.data.status).toBe('healthy');
  });

  it('answers unknown routes with a 404 envelope', async () => {
    const res = await client.get('/api/v1/nothing-here');
    expect(res.status).toBe(404);
    expect(res.json.success).toBe(false);
  });
});
