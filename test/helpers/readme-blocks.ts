import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './bin.js';

/**
 * A README code block marked runnable: `<!-- runnable -->` (a script: run it) or
 * `<!-- runnable file=path -->` (a file of a project the test writes), on the line before the fence.
 */
export interface RunnableBlock {
  lang: string;
  code: string;
  /** For project files: the path the block is written to. */
  file?: string;
  /** 1-based line of the fence, for messages. */
  line: number;
}

export function runnableBlocks(readme = readFileSync(join(repoRoot, 'README.md'), 'utf8')): RunnableBlock[] {
  const blocks: RunnableBlock[] = [];
  const re = /^<!-- runnable(?: file=(\S+))? -->\n```(\w*)\n([\s\S]*?)^```$/gm;
  for (const m of readme.matchAll(re)) {
    const line = readme.slice(0, m.index).split('\n').length + 1;
    blocks.push({ lang: m[2]!, code: m[3]!, ...(m[1] ? { file: m[1] } : {}), line });
  }
  return blocks;
}
