/** One audit event's `emulator_note` from the notes of several reasons, joined with "; " (none: undefined). */
export function joinNotes(...notes: (string | undefined)[]): string | undefined {
  const present = notes.filter((n): n is string => !!n);
  return present.length ? present.join('; ') : undefined;
}

/** `{ emulator_note }` to spread into an event's attributes, or nothing when there is no note. */
export function noteOf(note: string | undefined): { emulator_note?: string } {
  return note ? { emulator_note: note } : {};
}
