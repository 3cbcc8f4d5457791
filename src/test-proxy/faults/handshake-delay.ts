import { z } from 'zod';
import { defineFault } from './fault.js';

/** Waits before answering the greeting (a slow or overloaded proxy). */
export const handshakeDelay = defineFault({
  type: 'handshake_delay',
  summary: 'wait `latencyMs` before answering the greeting',
  attributes: z.object({ latencyMs: z.number().int().min(0).max(600_000).default(1000) }).strict(),
  effect: ({ latencyMs }, { phase }) => (phase === 'greeting' ? { kind: 'delay', ms: latencyMs } : undefined),
});
