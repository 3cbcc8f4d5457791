import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { repoRoot } from './bin.js';

/** The example scenarios, and generic "expect the wrong outcome" mutations of their expectations. */

export const examplesDir = join(repoRoot, 'examples', 'scenarios');
export const exampleFiles = readdirSync(examplesDir)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

export const loadExample = (file: string): Record<string, any> => parseYaml(readFileSync(join(examplesDir, file), 'utf8'));

const opposite: Record<string, Record<string, string>> = {
  decision: { allow: 'deny', deny: 'allow' },
  route: { direct: 'proxy', proxy: 'direct' },
  action: { deny: 'use-adapter', 'use-adapter': 'deny', 'pass-through': 'deny' },
  outcome: { completed: 'error', error: 'completed', denied: 'completed', rejected: 'completed' },
  atyp: { domain: 'ipv4', ipv4: 'domain', ipv6: 'domain' },
  auth: { accepted: 'rejected', rejected: 'accepted' },
};

/** A value that cannot match what was observed when the original did. */
export function wrongValue(key: string, value: unknown): unknown {
  if (typeof value === 'boolean') return !value;
  if (typeof value === 'number') return value + 1;
  if (Array.isArray(value)) return [...value, '198.18.0.99'];
  if (typeof value === 'string') return opposite[key]?.[value] ?? `${value}-not-this`;
  if (value && typeof value === 'object' && 'contains' in value) return { contains: `${(value as { contains: string }).contains} NOT-IN-THE-ANSWER` };
  throw new Error(`no mutation for ${key}=${JSON.stringify(value)}`);
}

export interface Mutation {
  /** 1-based, as the report numbers steps. */
  step: number;
  stepName: string;
  /** The difference's path the report must name (`proxy.replyCode`, `response`). */
  path: string;
  doc: Record<string, any>;
}

/** For each step with expectations: the document with that step's first expected field made wrong. */
export function mutations(doc: Record<string, any>): Mutation[] {
  const out: Mutation[] = [];
  (doc.steps as Record<string, any>[]).forEach((step, i) => {
    if (!step.expect) return;
    const copy = structuredClone(doc);
    let target: Record<string, any> = copy.steps[i].expect;
    const path: string[] = [];
    for (;;) {
      const [key, value] = Object.entries(target)[0]!;
      path.push(key);
      if (value && typeof value === 'object' && !Array.isArray(value) && !('contains' in value)) {
        target = value;
        continue;
      }
      target[key] = wrongValue(key, value);
      break;
    }
    out.push({ step: i + 1, stepName: step.name ?? Object.keys(step)[0], path: path.join('.'), doc: copy });
  });
  return out;
}
