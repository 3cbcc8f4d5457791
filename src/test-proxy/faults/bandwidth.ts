import { z } from 'zod';
import { defineFault, directionSchema } from './fault.js';

/** Limits relayed throughput, like Toxiproxy's `bandwidth` (`rate` in KB/s, 1 KB = 1000 bytes). */
export const bandwidth = defineFault({
  type: 'bandwidth',
  summary: 'limit relayed bytes to `rate` KB/s in `direction` (up, down or both; default down)',
  attributes: z
    .object({ rate: z.number().positive('rate must be > 0 KB/s').max(10_000_000), direction: directionSchema.default('down') })
    .strict(),
  effect: ({ rate, direction }, { phase }) =>
    phase === 'relay' ? { kind: 'throttle', bytesPerSecond: rate * 1000, direction } : undefined,
});
