import { z } from 'zod';
import { defineFault } from './fault.js';

/** Rejects RFC 1929 authentication even with valid credentials (status 0x01). */
export const authReject = defineFault({
  type: 'auth_reject',
  summary: 'reject username/password authentication (status 0x01) even for valid credentials',
  attributes: z.object({}).strict(),
  effect: (_attrs, { phase }) => (phase === 'auth' ? { kind: 'reject-auth' } : undefined),
});
