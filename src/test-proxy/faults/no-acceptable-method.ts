import { z } from 'zod';
import { defineFault } from './fault.js';

/** Answers the greeting with 0xFF: none of the offered methods is acceptable. */
export const noAcceptableMethod = defineFault({
  type: 'no_acceptable_method',
  summary: 'answer every greeting with method 0xff (no acceptable methods)',
  attributes: z.object({}).strict(),
  effect: (_attrs, { phase }) => (phase === 'greeting' ? { kind: 'refuse-methods' } : undefined),
});
