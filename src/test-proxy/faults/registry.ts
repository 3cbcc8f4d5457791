import { z } from 'zod';
import { EmulatorError } from '../../errors.js';
import { authReject } from './auth-reject.js';
import { bandwidth } from './bandwidth.js';
import { connectDelay } from './connect-delay.js';
import { faultMatchSchema, type FaultDefinition, type FaultKind } from './fault.js';
import { fragmentedReplies } from './fragmented-replies.js';
import { handshakeDelay } from './handshake-delay.js';
import { noAcceptableMethod } from './no-acceptable-method.js';
import { rejectDomainAtyp } from './reject-domain-atyp.js';
import { rejectIpv6 } from './reject-ipv6.js';
import { replyCode } from './reply-code.js';
import { resetAfterBytes } from './reset-after-bytes.js';
import { silentClose } from './silent-close.js';

/**
 * The fault registry: every fault kind, by `type`. The admin API (`POST /_emulator/proxy/faults`), its
 * OpenAPI document and the CLI (`proxy faults add`, `proxy serve --help`) all read this list.
 *
 * Adding a fault touches exactly:
 *   1. a new file `faults/<type-in-kebab-case>.ts` exporting `defineFault({ type, summary, attributes,
 *      effect })`, whose `effect` returns one of the existing `FaultEffect`s (fault.ts) at its phase;
 *   2. this file: its import and its place in the `faultKinds` list (the list order is the order
 *      `faultTypes` are shown to users).
 * Outside src/, the README's list of fault types and the web UI's (`faultTypes` in web/app.js) are
 * written by hand, and test/unit/socks5/test-proxy-parts.test.ts pins the set of types.
 * Only a fault that needs a new kind of effect touches more: the `FaultEffect` union in fault.ts and
 * where effects are carried out, `../connection-faults.ts` (delays, fragmented replies, relay shaping;
 * the deciding effects close/refuse/reject/reply are acted on in `../proxy-connection.ts`) and, for a
 * new relay effect, `../relay.ts` with its pumps.
 */
export const faultKinds: ReadonlyMap<string, FaultKind<never>> = new Map(
  (
    [
      authReject,
      noAcceptableMethod,
      replyCode,
      rejectDomainAtyp,
      rejectIpv6,
      handshakeDelay,
      connectDelay,
      bandwidth,
      resetAfterBytes,
      silentClose,
      fragmentedReplies,
    ] as FaultKind<never>[]
  ).map((k) => [k.type, k]),
);

export const faultTypes = [...faultKinds.keys()];

const definitionSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'name must be 1-100 characters of A-Z a-z 0-9 . _ - (starting with a letter or digit)').optional(),
    type: z.string({ error: 'type is required' }).min(1, 'type is required'),
    toxicity: z.number().min(0, 'toxicity must be between 0 and 1').max(1, 'toxicity must be between 0 and 1').default(1),
    attributes: z.record(z.string(), z.unknown()).default({}),
    match: faultMatchSchema.default({}),
  })
  .strict();

/** What a client may send for a fault (before defaults are filled in). */
export type FaultDefinitionInput = z.input<typeof definitionSchema>;

export class FaultDefinitionError extends EmulatorError {
  constructor(message: string) {
    super('invalid_fault', message);
    this.name = 'FaultDefinitionError';
  }
}

const describeIssues = (error: z.ZodError, prefix: string): string =>
  error.issues.map((i) => `${[prefix, ...i.path.map(String)].filter(Boolean).join('.') || 'fault'}: ${i.message}`).join('; ');

/** Validates a client-sent fault and fills defaults (name defaults to `<type>`). Throws `FaultDefinitionError`. */
export function parseFaultDefinition(input: unknown): FaultDefinition {
  const base = definitionSchema.safeParse(input);
  if (!base.success) throw new FaultDefinitionError(describeIssues(base.error, ''));
  const kind = faultKinds.get(base.data.type);
  if (!kind) throw new FaultDefinitionError(`type: unknown fault type ${JSON.stringify(base.data.type)}; known: ${faultTypes.join(', ')}`);
  const attrs = (kind.attributes as z.ZodType<unknown>).safeParse(base.data.attributes);
  if (!attrs.success) throw new FaultDefinitionError(describeIssues(attrs.error, 'attributes'));
  return {
    name: base.data.name ?? base.data.type,
    type: base.data.type,
    toxicity: base.data.toxicity,
    attributes: attrs.data as Record<string, unknown>,
    match: base.data.match,
  };
}
