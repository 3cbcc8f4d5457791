/** One audit event's `emulator_note` from the notes of several reasons, joined with "; " (none: undefined). */
export function joinNotes(...notes: (string | undefined)[]): string | undefined {
  const present = notes.filter((n): n is string => !!n);
  return present.length ? present.join('; ') : undefined;
}
