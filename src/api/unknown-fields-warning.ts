import type { Context } from 'hono';
import type { UnknownField } from '../go/json-decode.js';
import { ignoredFieldsNote } from '../policy/unenforced.js';

/** At most this many unknown fields are named (in the header and the flows' note). */
const MAX_NAMED_UNKNOWN_FIELDS = 10;

/** A JSON key may hold anything; a header value must be printable ASCII, without `"` or `\` inside the quoted text. */
export const headerSafe = (s: string) => s.replace(/[^\x20-\x7e]|["\\]/gu, (ch) => `\\u{${(ch.codePointAt(0) ?? 0).toString(16)}}`);

/** The unknown fields' paths as the emulator names them (header-safe, bounded). */
export function namedUnknownFields(fields: readonly UnknownField[]): string[] {
  const named = fields.slice(0, MAX_NAMED_UNKNOWN_FIELDS).map((f) => headerSafe(f.path));
  if (fields.length > named.length) named.push(`and ${fields.length - named.length} more`);
  return named;
}

/**
 * Adds the emulator's Warning for request keys that matched no field (Go ignores them silently, so
 * upstream answers as if they were absent): `299 sandbox-egress-emulator "ignored unknown policy
 * field (Sandbox0 ignores them too): egress.trafficRule (egress.trafficRule: did you mean trafficRules?)"`.
 */
export function warnUnknownFields(c: Context, fields: readonly UnknownField[], what: 'policy' | 'request' = 'policy'): void {
  const note = ignoredFieldsNote(namedUnknownFields(fields), what);
  if (!note) return;
  const hints = fields
    .filter((f) => f.didYouMean)
    .slice(0, MAX_NAMED_UNKNOWN_FIELDS)
    .map((f) => `${headerSafe(f.path)}: did you mean ${f.didYouMean}?`);
  c.header('Warning', `299 sandbox-egress-emulator "${note}${hints.length ? ` (${hints.join('; ')})` : ''}"`, { append: true });
}
