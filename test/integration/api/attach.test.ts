import { describe, expect, it } from 'vitest';
import { attachOrStartEmulator } from '../../../src/attach.js';
import { discoveryValue } from '../../../src/discovery.js';
import { useEmulator } from '../../helpers/emulator.js';

/** attachOrStartEmulator: the emulator SEE_EMULATOR names, else one of its own. */
const emu = useEmulator();

describe('attachOrStartEmulator', () => {
  it('attaches to the emulator SEE_EMULATOR names, gives tenants there, and leaves it running at stop', async () => {
    const env = { SEE_EMULATOR: discoveryValue({ apiUrl: emu.current.apiUrl, token: emu.current.token, readyFile: '/nowhere/ready.json' }) };
    const handle = await attachOrStartEmulator({}, env);
    expect(handle).toMatchObject({ attached: true, apiUrl: emu.current.apiUrl, token: emu.current.token, readyFile: '/nowhere/ready.json' });
    expect((await handle.info()).ports.api).toBe(emu.current.port);
    const tenant = await handle.tenant();
    expect(tenant.apiUrl).toBe(emu.current.apiUrl);
    const res = await fetch(`${tenant.apiUrl}/_emulator/info`, { headers: { authorization: `Bearer ${tenant.token}` } });
    expect(((await res.json()) as { data: { teamId: string } }).data.teamId).toBe(tenant.teamId);
    await handle.stop();
    expect((await fetch(`${emu.current.apiUrl}/_emulator/health`)).status).toBe(200);
  });

  it('fails clearly when SEE_EMULATOR names an emulator that does not answer', async () => {
    const env = { SEE_EMULATOR: discoveryValue({ apiUrl: emu.current.apiUrl, token: 's0_local_' + 'ee'.repeat(24) }) };
    await expect(attachOrStartEmulator({}, env)).rejects.toThrow(`SEE_EMULATOR names ${emu.current.apiUrl}, which did not answer`);
  });

  it('starts its own with the interception SEE_INTERCEPTION asks for, and stops it', async () => {
    const handle = await attachOrStartEmulator({}, { SEE_INTERCEPTION: 'explicit' });
    try {
      expect(handle.attached).toBe(false);
      expect((await handle.info()).interception.mode).toBe('explicit');
      expect((await handle.tenant()).token).toMatch(/^s0_local_/);
    } finally {
      await handle.stop();
    }
    await expect(fetch(`${handle.apiUrl}/_emulator/health`)).rejects.toThrow();
  });
});
