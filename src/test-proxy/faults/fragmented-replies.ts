import { z } from 'zod';
import { defineFault } from './fault.js';

/** Writes every handshake reply one byte per write, like fragile proxies; catches clients that expect whole reads. */
export const fragmentedReplies = defineFault({
  type: 'fragmented_replies',
  summary: 'write handshake replies one byte per write, `gapMs` apart (default 2)',
  attributes: z.object({ gapMs: z.number().int().min(0).max(10_000).default(2) }).strict(),
  effect: ({ gapMs }, { phase }) => (phase === 'relay' ? undefined : { kind: 'fragment', gapMs }),
});
