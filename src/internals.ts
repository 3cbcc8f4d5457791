/**
 * The emulator's internals, for this package's tests and benchmarks only: `emulatorInternals(emu).gateway`.
 * Deliberately not exported from `index.ts`, so the library's semver surface stays what `Emulator` shows.
 */
import { internalsOf, type EmulatorInternals } from './composition/internals.js';
import type { Emulator } from './emulator.js';

export type { EmulatorInternals };

/** The store, services, gateway, runtime… of an emulator `startEmulator` started in this process. */
export function emulatorInternals(emulator: Emulator): EmulatorInternals {
  return internalsOf(emulator);
}
