import { Client } from 'sandbox0';
import { describe, expect, inject, it } from 'vitest';

/** Code that reads SANDBOX0_BASE_URL / SANDBOX0_TOKEN (as the SDK's users and `s0` do) finds the emulator. */
describe('environment', () => {
  it('points SANDBOX0_BASE_URL and SANDBOX0_TOKEN at the emulator', async () => {
    const emulator = inject('sandboxEgressEmulator');
    expect(process.env.SANDBOX0_BASE_URL).toBe(emulator.apiUrl);
    expect(process.env.SANDBOX0_TOKEN).toBe(emulator.token);
    const client = new Client({ token: process.env.SANDBOX0_TOKEN!, baseUrl: process.env.SANDBOX0_BASE_URL! });
    await client.sandboxes.claim('default');
    // The emulator was reset before this file: the other file's sandbox is gone.
    expect((await client.sandboxes.list()).count).toBe(1);
  });
});
