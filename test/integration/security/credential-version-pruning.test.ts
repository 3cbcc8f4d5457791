import { describe, expect, it } from 'vitest';
import { api, useEmulator } from '../../helpers/emulator.js';
import { emulatorInternals } from '../../../src/internals.js';

const source = (password: string) => ({
  name: 'rotating',
  resolverKind: 'static_username_password',
  spec: { staticUsernamePassword: { username: 'proxy-user', password } },
});

describe('credential rotation keeps only the versions bindings pin and the current one (finding 10)', () => {
  const emulator = useEmulator();
  const client = api(() => emulator.current);
  const versionRows = (): number[] =>
    (emulatorInternals(emulator.current).store.db.prepare("SELECT version FROM credential_source_versions WHERE name = 'rotating' ORDER BY version").all() as { version: number }[]).map(
      (r) => r.version,
    );

  it('100 updates of a bound source leave a bounded number of sealed rows, and the pinned version still opens', async () => {
    expect((await client.post('/api/v1/credential-sources', source('pass-0'))).status).toBe(201);
    const id = (await client.post('/api/v1/sandboxes', { template: 'default' })).json.data.sandbox_id as string;
    const put = await client.put(`/api/v1/sandboxes/${id}/network`, {
      mode: 'allow-all',
      egress: { proxy: { type: 'socks5', address: 'proxy.example.com:1080', credentialRef: 'corp' } },
      credentialBindings: [{ ref: 'corp', sourceRef: 'rotating', projection: { type: 'username_password', usernamePassword: {} } }],
    });
    expect(put.status).toBe(200);
    for (let i = 1; i <= 100; i++) expect((await client.put('/api/v1/credential-sources/rotating', source(`pass-${i}`))).status).toBe(200);

    expect((await client.get('/api/v1/credential-sources/rotating')).json.data.currentVersion).toBe(101);
    const rows = versionRows();
    expect(rows.length).toBeLessThanOrEqual(2);
    expect(rows).toContain(101);
    const pinned = emulatorInternals(emulator.current).store.bindings.forSandbox(id).map((b) => b.sourceVersion);
    for (const version of pinned) {
      expect(rows).toContain(version);
      expect(emulatorInternals(emulator.current).store.credentialSources.spec('team-local', 'rotating', version)?.staticUsernamePassword?.password).toBe('pass-100');
    }
  });

  it('an unbound source keeps only its current version', async () => {
    await client.post('/_emulator/reset');
    expect((await client.post('/api/v1/credential-sources', source('a'))).status).toBe(201);
    for (let i = 0; i < 5; i++) await client.put('/api/v1/credential-sources/rotating', source(`b${i}`));
    expect(versionRows()).toEqual([6]);
  });
});
