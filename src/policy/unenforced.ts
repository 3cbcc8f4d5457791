/**
 * How the emulator words the policy fields it stores and validates but does not enforce (PRODUCT.md
 * deliberate differences): one text for the PUT response's `Warning` header and the audit's
 * `emulator_note`. Which fields those are is decided by `unenforcedFields` (control-plane/network-policies.ts).
 */
export function unenforcedNote(fields: readonly string[]): string | undefined {
  return fields.length ? `not enforced by the emulator: ${fields.join(', ')}` : undefined;
}

/**
 * The note for request keys that matched no policy field: Sandbox0 ignores them silently (Go's
 * encoding/json), so a misspelled `trafficRule` changes nothing; the emulator says so.
 */
export function ignoredFieldsNote(fields: readonly string[], what: 'policy' | 'request' = 'policy'): string | undefined {
  return fields.length ? `ignored unknown ${what} field${fields.length > 1 ? 's' : ''} (Sandbox0 ignores them too): ${fields.join(', ')}` : undefined;
}

/** Everything the emulator has to say about a sandbox's policy, for its flows' `emulator_note`. */
export function policyNote(unenforced: readonly string[], ignoredFields: readonly string[] = []): string | undefined {
  const notes = [unenforcedNote(unenforced), ignoredFieldsNote(ignoredFields)].filter((n): n is string => !!n);
  return notes.length ? notes.join('; ') : undefined;
}
