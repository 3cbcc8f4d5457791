import { EmulatorError } from '../errors.js';

/** The one command that builds better-sqlite3's native binding when an install skipped it. */
export const rebuildCommand = 'npm rebuild better-sqlite3';

/**
 * better-sqlite3 loads its compiled binding when the first database opens. An install with
 * `--ignore-scripts` (pnpm's default, some CI caches) leaves none ("Could not locate the bindings
 * file"), and a Node upgrade leaves one for another ABI (NODE_MODULE_VERSION): both end in a bare
 * loader error that names no fix. Either becomes an error with a stable code and the command.
 */
export function nativeBindingError(err: unknown): EmulatorError | undefined {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown })?.code;
  const missing = /Could not locate the bindings file/i.test(message);
  const wrongAbi = code === 'ERR_DLOPEN_FAILED' || /NODE_MODULE_VERSION|was compiled against a different Node\.js version/i.test(message);
  if (!missing && !wrongAbi) return undefined;
  const what = missing ? 'is not built (was it installed with --ignore-scripts?)' : `was built for another Node.js version than ${process.version}`;
  return new EmulatorError('native_binding_missing', `better-sqlite3's native binding ${what}; run \`${rebuildCommand}\` in the project that installed sandbox-egress-emulator`, { cause: err });
}
