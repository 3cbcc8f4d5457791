import { readFileSync } from 'node:fs';
import { UsageError } from './args.js';

/**
 * Secrets a command needs (the API token, proxy users' passwords, a proxy URL with credentials) can
 * come from a file, an environment variable or stdin, which other users of the machine cannot read;
 * a secret given on the command line is visible to all of them (`ps`, /proc/<pid>/cmdline), so it
 * still works but draws a warning on stderr.
 */

/** The warning for a secret seen in argv: which flag, and the forms to use instead. */
export function argvSecretWarning(what: string, instead: string): string {
  return `warning: ${what} is on the command line, where every user of this machine can read it (ps); use ${instead} instead\n`;
}

/** A file's text without its final line break; a usage error naming the flag when it cannot be read. */
export function readSecretFile(flag: string, path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`${flag}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return text.replace(/\r?\n$/, '');
}

/** The first line of a file (a token, a URL), trimmed; a usage error when it is empty. */
export function readSecretLine(flag: string, path: string): string {
  const line = (readSecretFile(flag, path).split(/\r?\n/)[0] ?? '').trim();
  if (!line) throw new UsageError(`${flag}: ${path} is empty`);
  return line;
}

/** `USER:PASSWORD` lines (blank lines and lines starting with # skipped). */
export function userLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/** The first line a stream carries (stdin for `proxy check -`), trimmed; bounded to 64 KiB. */
export async function readFirstLine(stream: NodeJS.ReadableStream, what: string, maxBytes = 64 * 1024): Promise<string> {
  let text = '';
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    text += chunk.toString();
    if (text.includes('\n') || text.length > maxBytes) break;
  }
  const line = (text.split(/\r?\n/)[0] ?? '').trim();
  if (!line) throw new UsageError(`${what}: nothing on stdin`);
  return line;
}

/** Does this proxy URL carry a password (`socks5://user:pass@...`)? */
export function proxyUrlHasPassword(text: string): boolean {
  try {
    return new URL(text).password !== '';
  } catch {
    return /^[a-z0-9+.-]+:\/\/[^/@]*:[^/@]*@/i.test(text);
  }
}
