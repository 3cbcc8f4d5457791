import { execa, type ResultPromise } from 'execa';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
/** The built bin (`npm test` builds first). */
/** The built bin as users run it: the bundled entry (`npm run build`). */
export const binPath = join(repoRoot, 'dist', 'bin', 'main.js');

export function assertBuilt() {
  if (!existsSync(binPath)) throw new Error(`${binPath} is missing: run \`npm run build\` (npm test does it)`);
}

/** Resolves once the child's stdout contains `marker` (no sleeping), or rejects when it exits first or times out. */
export function waitForOutput(child: ResultPromise, marker: string, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => done(new Error(`timed out waiting for "${marker}"; output so far:\n${seen}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes(marker)) done();
    };
    const onExit = () => done(new Error(`process exited before printing "${marker}"; output:\n${seen}`));
    function done(err?: Error) {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(seen);
    }
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}
