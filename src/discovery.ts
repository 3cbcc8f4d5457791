/**
 * How a process finds an emulator someone else started: `sandbox-egress-emulator run -- <cmd>` exports
 * `SEE_EMULATOR` (JSON: the API URL, its token and the ready file) to the command, and the CLI, the
 * library (`attachOrStartEmulator`) and the vitest setup use it before starting one of their own.
 */
export const discoveryVariable = 'SEE_EMULATOR';

export interface DiscoveredEmulator {
  apiUrl: string;
  token: string;
  /** The ready file `run` wrote (ports, test proxy, interception), when there is one. */
  readyFile?: string;
}

export function discoveryValue(emulator: DiscoveredEmulator): string {
  return JSON.stringify({ apiUrl: emulator.apiUrl, token: emulator.token, ...(emulator.readyFile ? { readyFile: emulator.readyFile } : {}) });
}

/** The emulator `SEE_EMULATOR` names; undefined when unset or empty; throws when it is not what `run` writes. */
export function readDiscovery(env: NodeJS.ProcessEnv = process.env): DiscoveredEmulator | undefined {
  const raw = env[discoveryVariable];
  if (!raw) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(`${discoveryVariable} is not JSON: expected {"apiUrl","token"} as \`sandbox-egress-emulator run\` exports it`);
  }
  const { apiUrl, token, readyFile } = (parsed ?? {}) as Record<string, unknown>;
  if (typeof apiUrl !== 'string' || typeof token !== 'string' || !/^https?:\/\//.test(apiUrl)) {
    throw new Error(`${discoveryVariable} must hold {"apiUrl":"http://…","token":"…"} as \`sandbox-egress-emulator run\` exports it`);
  }
  return { apiUrl: apiUrl.replace(/\/+$/, ''), token, ...(typeof readyFile === 'string' ? { readyFile } : {}) };
}
