import { z } from 'zod';
import { defineFault } from './fault.js';

/** Closes the connection (FIN) instead of answering, at the chosen handshake stage. */
export const silentClose = defineFault({
  type: 'silent_close',
  summary: 'close the connection without answering at `stage` (greeting, auth or request; default request)',
  attributes: z.object({ stage: z.enum(['greeting', 'auth', 'request']).default('request') }).strict(),
  effect: ({ stage }, { phase }) => (phase === stage ? { kind: 'close', how: 'fin' } : undefined),
});
