import { readFile } from 'node:fs/promises';

/** Go's `os.ReadFile` error wording (`open x: no such file or directory`), as the official CLI prints it. */
function goFileError(path: string, err: NodeJS.ErrnoException): Error {
  switch (err.code) {
    case 'ENOENT':
      return new Error(`open ${path}: no such file or directory`);
    case 'EACCES':
      return new Error(`open ${path}: permission denied`);
    case 'EISDIR':
      return new Error(`read ${path}: is a directory`);
    default:
      return new Error(`open ${path}: ${err.message}`);
  }
}

export async function readFileLikeGo(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw goFileError(path, err as NodeJS.ErrnoException);
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** A path, or `-` for stdin (the policy file flag's convention). */
export function fileOrStdinReader(stdin: NodeJS.ReadableStream = process.stdin) {
  return (path: string) => (path.trim() === '-' ? readAll(stdin) : readFileLikeGo(path));
}
