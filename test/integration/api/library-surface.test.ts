import { describe, expect, it } from 'vitest';
import { emulatorInternals } from '../../../src/internals.js';
import * as library from '../../../src/index.js';
import { useEmulator } from '../../helpers/emulator.js';

/**
 * The library's `Emulator` carries what PRODUCT.md promises and its documented helpers, nothing of the
 * emulator's pieces: those are reached through `internals.ts`, which the package entry does not export.
 */
describe('library surface', () => {
  const emu = useEmulator();

  it('an Emulator has only the promised members', () => {
    expect(Object.keys(emu.current).sort()).toEqual(['admin', 'apiUrl', 'flows', 'info', 'port', 'proxy', 'reset', 'sandbox', 'stop', 'tenant', 'token']);
  });

  it('the internals handle reaches the pieces of an emulator started here, and nothing else', () => {
    const internals = emulatorInternals(emu.current);
    expect(internals.gateway.platformDns).toBeDefined();
    expect(internals.store.healthy()).toBe(true);
    expect(() => emulatorInternals({ ...emu.current })).toThrow(/not an emulator started by startEmulator/);
  });

  it('the package entry does not export the internals handle', () => {
    expect(Object.keys(library)).not.toContain('emulatorInternals');
  });
});
