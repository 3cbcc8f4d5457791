/**
 * How the emulator words the policy fields it stores and validates but does not enforce (PRODUCT.md
 * deliberate differences): one text for the PUT response's `Warning` header and the audit's
 * `emulator_note`. Which fields those are is decided by `unenforcedFields` (control-plane/network-policies.ts).
 */
export function unenforcedNote(fields: readonly string[]): string | undefined {
  return fields.length ? `not enforced by the emulator: ${fields.join(', ')}` : undefined;
}
