import { describe, expect, it } from 'vitest';
import { readyFileContents } from '../../../src/cli/emulator-flags.js';
import { adminData } from '../../../src/api/admin/client.js';
import { api, useEmulator } from '../../helpers/emulator.js';

const users = [
  { username: 'first-user', password: 'first-pass-6b1e' },
  { username: 'second-user', password: 'second-pass-0c9a' },
];

describe('/_emulator/info does not return the test proxy users\' passwords (finding 6)', () => {
  const emulator = useEmulator({ testProxy: { users } });
  const client = api(() => emulator.current);

  it('info lists user names only, over HTTP and through the typed admin client', async () => {
    const res = await client.get('/_emulator/info');
    expect(res.status).toBe(200);
    for (const { password } of users) expect(res.text).not.toContain(password);
    expect(res.json.data.testProxy.users).toEqual([{ username: 'first-user' }, { username: 'second-user' }]);
    const typed = await adminData(emulator.current.admin.info.$get());
    expect(JSON.stringify(typed)).not.toContain(users[0]!.password);
    expect(JSON.stringify(emulator.current.info())).not.toContain(users[0]!.password);
  });

  it('the ready file (mode 0600) is where a client gets the first user\'s password', () => {
    expect(readyFileContents(emulator.current).proxy).toEqual({ address: emulator.current.proxy!.address, username: 'first-user', password: 'first-pass-6b1e' });
  });
});
