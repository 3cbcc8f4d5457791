import { randomBytes } from 'node:crypto';
import { secretPlaceholderPattern } from './schema.js';

/**
 * `${secret:NAME}` placeholders: every occurrence of a NAME gets the same value in one run, from the
 * environment (`SEE_SECRET_<NAME>`, NAME upper-cased with other characters as `_`) or generated. A
 * recorded file keeps equal secrets equal (one NAME) and different ones different, so it replays the
 * same outcomes without holding a secret.
 */

export const secretEnvName = (name: string) => `SEE_SECRET_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;

/** Replaces the placeholders in every string of a parsed document (a new document; pure but for `generate`). */
export function resolveSecrets(doc: unknown, env: NodeJS.ProcessEnv, generate: () => string = () => randomBytes(12).toString('hex')): unknown {
  const values = new Map<string, string>();
  const valueOf = (name: string) => {
    let v = values.get(name);
    if (v === undefined) {
      v = env[secretEnvName(name)] || generate();
      values.set(name, v);
    }
    return v;
  };
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return v.replace(secretPlaceholderPattern, (_, name: string) => valueOf(name));
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(doc);
}
