export class UsageError extends Error {}

/** Runs node:util parseArgs (or any parsing) and turns its errors into a UsageError (exit code 2). */
export function usageErrors<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function parsePort(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new UsageError(`invalid ${flag} "${value}": must be a port number 0-65535`);
  return n;
}
