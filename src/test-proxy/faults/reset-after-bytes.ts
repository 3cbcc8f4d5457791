import { z } from 'zod';
import { defineFault, directionSchema } from './fault.js';

/** Relays `bytes` bytes, then resets the client connection (RST), like a proxy that kills long flows. */
export const resetAfterBytes = defineFault({
  type: 'reset_after_bytes',
  summary: 'reset the connection (RST) once `bytes` bytes were relayed in `direction` (default both)',
  attributes: z.object({ bytes: z.number().int().min(0), direction: directionSchema.default('both') }).strict(),
  effect: ({ bytes, direction }, { phase }) => (phase === 'relay' ? { kind: 'reset-after', bytes, direction } : undefined),
});
