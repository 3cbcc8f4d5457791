/**
 * The ways a secret could sit in bytes it leaked into: as text (UTF-8, UTF-16LE), as hex, as base64 or
 * base64url at any of the three alignments inside a longer encoded string, and as the decimal byte
 * list a JSON logger prints for a Buffer. Each needle is long enough not to occur by chance.
 */
export interface SecretNeedle {
  form: string;
  bytes: Buffer;
}

/** The part of base64(prefix + secret) that depends on the secret's bytes only, for each alignment. */
function base64Cores(secret: Buffer, url: boolean): string[] {
  const cores: string[] = [];
  for (let shift = 0; shift < 3; shift++) {
    const encoded = Buffer.concat([Buffer.alloc(shift), secret]).toString(url ? 'base64url' : 'base64');
    // The first group mixes the prefix in (unless there is none); the last may mix in what follows.
    const core = encoded.slice(shift === 0 ? 0 : 4, encoded.length - 4);
    if (core.length >= 8) cores.push(core);
  }
  return cores;
}

export function secretNeedles(secret: string): SecretNeedle[] {
  const raw = Buffer.from(secret, 'utf8');
  const text = (form: string, s: string): SecretNeedle => ({ form, bytes: Buffer.from(s, 'utf8') });
  return [
    { form: 'utf8', bytes: raw },
    { form: 'utf16le', bytes: Buffer.from(secret, 'utf16le') },
    text('hex', raw.toString('hex')),
    text('HEX', raw.toString('hex').toUpperCase()),
    ...base64Cores(raw, false).map((c, i) => text(`base64@${i}`, c)),
    ...base64Cores(raw, true).map((c, i) => text(`base64url@${i}`, c)),
    text('byte list', [...raw].join(',')),
  ];
}

/** The forms of any of the secrets found in `haystack` (empty when it is clean). */
export function findSecrets(haystack: Buffer | string, secrets: readonly string[]): string[] {
  const bytes = typeof haystack === 'string' ? Buffer.from(haystack, 'utf8') : haystack;
  const found: string[] = [];
  for (const secret of secrets) {
    for (const needle of secretNeedles(secret)) if (bytes.includes(needle.bytes)) found.push(`${secret} as ${needle.form}`);
  }
  return found;
}
