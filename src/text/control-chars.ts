/**
 * Text from a sandbox (Host headers, SNI, names) can hold terminal escapes: before it is printed,
 * control characters (C0, DEL, C1) and bidi/line separators become visible escapes (`\x1b`, `\u202e`),
 * and a backslash is doubled so an escape cannot be forged. Pure.
 */
// eslint-disable-next-line no-control-regex
const unsafe = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\\]/g;

export function escapeControl(text: string): string {
  return text.replace(unsafe, (c) => {
    if (c === '\\') return '\\\\';
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

// JSON.stringify escapes C0 controls already; DEL, C1 and bidi controls are only found inside strings.
const unsafeInJson = /[\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** JSON text with the remaining terminal-unsafe characters written as `\uXXXX` (still the same JSON value). */
export function terminalSafeJson(value: unknown, space?: number): string {
  return JSON.stringify(value, null, space).replace(unsafeInJson, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
