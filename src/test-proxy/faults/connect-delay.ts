import { z } from 'zod';
import { defineFault } from './fault.js';

/** Waits before dialling the destination, so the CONNECT reply comes late. */
export const connectDelay = defineFault({
  type: 'connect_delay',
  summary: 'wait `latencyMs` before connecting to the destination and replying',
  attributes: z.object({ latencyMs: z.number().int().min(0).max(600_000).default(1000) }).strict(),
  effect: ({ latencyMs }, { phase }) => (phase === 'request' ? { kind: 'delay', ms: latencyMs } : undefined),
});
