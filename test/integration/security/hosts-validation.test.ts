import { describe, expect, it } from 'vitest';
import { api, useEmulator } from '../../helpers/emulator.js';

describe('PUT /_emulator/sandboxes/{id}/hosts validates names as DNS names and addresses with a parser (finding 4)', () => {
  const emulator = useEmulator();
  const client = api(() => emulator.current);
  const claim = async (): Promise<string> => {
    const res = await client.post('/api/v1/sandboxes', { template: 'default' });
    expect(res.status).toBe(201);
    return res.json.data.sandbox_id as string;
  };

  it.each([
    ['a newline (a second hosts line)', 'db.corp.example.com\n127.0.0.1 api.internal.example.com'],
    ['a carriage return', 'db.corp.example.com\r'],
    ['a space', 'db corp'],
    ['a tab', 'db\tcorp'],
    ['a comment sign', 'db#x'],
    ['an empty label', 'db..corp'],
    ['a label of 64 characters', `${'a'.repeat(64)}.example.com`],
    ['a leading hyphen', '-db.example.com'],
    ['a NUL', 'db\u0000.example.com'],
  ])('rejects a name with %s', async (_what, name) => {
    const id = await claim();
    const res = await client.put(`/_emulator/sandboxes/${id}/hosts`, { hosts: { [name]: ['198.18.0.20'] } });
    expect(res.status).toBe(400);
    expect(res.json.success).toBe(false);
    expect(res.json.error.message).toMatch(/DNS name/);
    expect(res.json.error.message).not.toMatch(/[\n\r\u0000]/);
    expect((await client.get(`/_emulator/sandboxes/${id}`)).json.data.hosts).toEqual({});
  });

  it.each(['1.2.3.4.5', '1...1', '::::', '999.1.1.1', '1.2.3', 'fe80::1%eth0', ':'])('rejects the address %j', async (address) => {
    const id = await claim();
    const res = await client.put(`/_emulator/sandboxes/${id}/hosts`, { hosts: { 'db.corp.example.com': [address] } });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(/IP address/);
  });

  it('accepts DNS names (trailing dot, underscore, one label) with IPv4 and IPv6 addresses', async () => {
    const id = await claim();
    const hosts = { 'db.corp.example.com': ['198.18.0.20', '2001:db8::20'], 'svc_a.internal.': ['198.18.0.21'], intranet: ['198.18.0.22'] };
    const res = await client.put(`/_emulator/sandboxes/${id}/hosts`, { hosts });
    expect(res.status).toBe(200);
    expect(res.json.data.hosts).toEqual(hosts);
  });

  it('the library\'s sandbox(id).setHosts refuses the same, and keeps the entries it had', async () => {
    const id = await claim();
    const sandbox = emulator.current.sandbox(id);
    sandbox.setHosts({ 'db.corp.example.com': ['198.18.0.20'] });
    expect(() => sandbox.setHosts({ 'db.corp.example.com\n127.0.0.1 api.internal.example.com': ['198.18.0.20'] })).toThrow(/must be a DNS name/);
    expect(() => sandbox.setHosts({ 'db.corp.example.com': ['1.2.3.4.5'] })).toThrow(/must be an IP address/);
    expect(sandbox.view()!.hosts).toEqual({ 'db.corp.example.com': ['198.18.0.20'] });
  });
});
