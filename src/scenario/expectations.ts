import { isDeepStrictEqual } from 'node:util';
import type { Expectation } from './schema.js';

/**
 * Pure expectation matching: what a step observed (`Observation`, the same shape as an expectation)
 * against what the file expects. Only the expected fields are compared; `{contains}` fields are
 * substring checks; nested objects are compared field by field.
 */

/** What a step observed, in the expectation's shape. */
export interface Observation {
  decision?: 'allow' | 'deny';
  action?: string;
  reason?: string;
  matchedRule?: string;
  route?: string;
  flowStarts?: boolean;
  outcome?: string;
  errorStep?: string;
  proxyTarget?: { atyp?: string; host?: string; port?: number };
  proxy?: { reached: boolean; user?: string; atyp?: string; host?: string; port?: number; replyCode?: number; auth?: string; closeCause?: string };
  audit?: Record<string, unknown>;
  response?: string;
  resolves?: boolean;
  addresses?: string[];
  exitCode?: number;
  stdout?: string;
  error?: string;
}

/** One expected field that did not hold: its dotted path, what the file expects, what was observed. */
export interface Difference {
  path: string;
  expected: unknown;
  got: unknown;
  /** `contains` for substring checks. */
  check?: 'contains';
}

const textFields = new Set(['response', 'stdout', 'error']);

function compare(path: string, expected: unknown, got: unknown, out: Difference[]): void {
  if (expected === undefined) return;
  if (textFields.has(path)) {
    const want = (expected as { contains: string }).contains;
    if (typeof got !== 'string' || !got.includes(want)) out.push({ path, expected: want, got: got ?? null, check: 'contains' });
    return;
  }
  if (expected !== null && typeof expected === 'object' && !Array.isArray(expected)) {
    const gotObject = got !== null && typeof got === 'object' && !Array.isArray(got) ? (got as Record<string, unknown>) : undefined;
    for (const [key, value] of Object.entries(expected)) compare(`${path}.${key}`, value, gotObject?.[key], out);
    return;
  }
  if (!isDeepStrictEqual(expected, got)) out.push({ path, expected, got: got ?? null });
}

/** Every expected field that the observation does not satisfy, in the expectation's order. */
export function matchExpectations(expected: Expectation | undefined, got: Observation): Difference[] {
  const out: Difference[] = [];
  if (!expected) return out;
  for (const [key, value] of Object.entries(expected)) {
    if (key === 'proxy' && value && typeof value === 'object') {
      // "the proxy was not reached" is the whole answer when it was not: the other fields are absent.
      const proxy = got.proxy ?? { reached: false };
      const want = value as NonNullable<Expectation['proxy']>;
      if (!proxy.reached && want.reached !== false && Object.keys(want).some((k) => k !== 'reached')) {
        out.push({ path: 'proxy.reached', expected: true, got: false });
        continue;
      }
      compare('proxy', want, proxy, out);
      continue;
    }
    compare(key, value, (got as Record<string, unknown>)[key], out);
  }
  return out;
}

const show = (v: unknown): string => (typeof v === 'string' ? v : v === null || v === undefined ? '(nothing)' : JSON.stringify(v));

/** `expected reason: l4_denied / got reason: allowed` as two aligned lines (pure). */
export function describeDifference(d: Difference): string[] {
  const label = d.check === 'contains' ? `${d.path} containing` : d.path;
  return [`expected ${label}: ${show(d.expected)}`, `got      ${d.path}: ${show(d.got)}`];
}
