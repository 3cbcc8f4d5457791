import { Client } from 'sandbox0';
import { fileTenant } from 'sandbox-egress-emulator/vitest';
import { describe, expect, inject, it } from 'vitest';

/** Code that reads SANDBOX0_BASE_URL / SANDBOX0_TOKEN (as the SDK's users and `s0` do) finds this file's tenant. */
describe('environment', () => {
  it('points SANDBOX0_BASE_URL and SANDBOX0_TOKEN at the emulator, as this file\'s tenant', async () => {
    const emulator = inject('sandboxEgressEmulator');
    expect(process.env.SANDBOX0_BASE_URL).toBe(emulator.apiUrl);
    expect(process.env.SANDBOX0_TOKEN).toBe(fileTenant().token);
    expect(process.env.SANDBOX0_TOKEN).not.toBe(emulator.token);
    const client = new Client({ token: process.env.SANDBOX0_TOKEN!, baseUrl: process.env.SANDBOX0_BASE_URL! });
    await client.sandboxes.claim('default');
    // Files run in parallel on one emulator; the other file's sandbox belongs to another tenant.
    expect((await client.sandboxes.list()).count).toBe(1);
  });
});
