import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../../src/scenario/run.js';
import { api, useEmulator } from '../../helpers/emulator.js';
import { examplesDir } from '../../helpers/scenario-mutations.js';
import { emulatorInternals } from '../../../src/internals.js';

/** A scenario on an attached emulator (what it changed is undone), and command steps without transparent interception (test/integration/transparent/scenario-exec.test.ts runs them). */
const emu = useEmulator();
const client = api(() => emu.current);
const transparentFile = join(examplesDir, 'transparent', 'curl-inside-sandbox.yaml');

describe('runScenario with attach', () => {
  it('runs on a running emulator, twice, and restores its DNS views and faults', { timeout: 60_000 }, async () => {
    const before = {
      platform: (await client.get('/_emulator/dns/platform')).json.data,
      customer: (await client.get('/_emulator/dns/customer')).json.data,
      faults: (await client.get('/_emulator/proxy/faults')).json.data,
    };
    const attach = { apiUrl: emu.current.apiUrl, token: emu.current.token };
    for (const file of ['proxy-without-atyp-domain.yaml', 'internal-name-not-resolvable.yaml', 'internal-name-not-resolvable.yaml']) {
      const result = await runScenario(join(examplesDir, file), { attach });
      expect(result.emulator).toMatchObject({ apiUrl: emu.current.apiUrl, attached: true });
      expect(result.passed).toBe(true);
    }
    expect((await client.get('/_emulator/dns/platform')).json.data).toEqual(before.platform);
    expect((await client.get('/_emulator/dns/customer')).json.data).toEqual(before.customer);
    expect((await client.get('/_emulator/proxy/faults')).json.data).toEqual(before.faults);
    // The scenario's sandboxes are deleted after it; its flows stay for inspection.
    expect(emulatorInternals(emu.current).store.sandboxes.ids()).toEqual([]);
    expect(emu.current.flows().some((e) => e.attributes.proxy_reply_code === 8)).toBe(true);
  });
});

describe('exec steps', () => {
  it('are skipped, saying why, without transparent interception', { timeout: 60_000 }, async () => {
    const result = await runScenario(transparentFile, { interception: 'explicit' });
    expect(result.passed).toBe(true);
    expect(result.steps[0]).toMatchObject({ status: 'skipped', action: 'exec' });
    expect(result.steps[0]!.message).toMatch(/only with transparent interception \(this emulator uses explicit\)/);
  });
});
