/**
 * `sandbox-egress-emulator/vitest/tenant`: a setup file (the global setup adds it to `setupFiles` by
 * itself) that gives the test file a tenant of its own on the run's emulator and points
 * SANDBOX0_BASE_URL / SANDBOX0_TOKEN at it, so parallel files never see each other's state.
 */
import { inject } from 'vitest';
import { createTenant, setFileTenant } from './vitest.js';

const emulator = inject('sandboxEgressEmulator');
if (!emulator) throw new Error("sandbox-egress-emulator/vitest/tenant needs 'sandbox-egress-emulator/vitest' in globalSetup");
setFileTenant(await createTenant(emulator.apiUrl, emulator.token));
