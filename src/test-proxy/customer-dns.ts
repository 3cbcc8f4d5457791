import { z } from 'zod';
import { EmulatorError } from '../errors.js';

/**
 * The customer-side DNS view: what names mean on the proxy's side of the network. Keys are `name` or
 * `name:port` (a port-specific key wins); values are `host:port`, or `host` to keep the requested port.
 * Names are case-insensitive.
 */

export type CustomerDnsRecords = Record<string, string>;

import { formatHostPort, parseHostPort, type HostPort } from '../net/host-port.js';

export { formatHostPort, parseHostPort, type HostPort };

const keyPattern = /^(\[[0-9a-fA-F:.]+\]|[^:\s\[\]]+)(:\d{1,5})?$/;
const valueSchema = z.string().refine((v) => parseHostPort(v, 0) !== undefined, 'values are host:port (or host)');
export const customerDnsRecordsSchema = z.record(z.string(), valueSchema).superRefine((records, ctx) => {
  for (const key of Object.keys(records)) {
    if (!keyPattern.test(key)) ctx.addIssue({ code: 'custom', path: [key], message: 'keys are name or name:port' });
  }
});

export class CustomerDnsView {
  private records = new Map<string, string>();

  constructor(records: CustomerDnsRecords = {}) {
    this.replace(records);
  }

  /** Replaces the view; throws `EmulatorError('invalid_dns_view')` naming the first bad record. */
  replace(records: CustomerDnsRecords): void {
    const parsed = customerDnsRecordsSchema.safeParse(records);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new EmulatorError('invalid_dns_view', `records${issue?.path.length ? '.' + issue.path.map(String).join('.') : ''}: ${issue?.message ?? 'invalid'}`);
    }
    this.records = new Map(Object.entries(parsed.data).map(([k, v]) => [k.toLowerCase(), v]));
  }

  toJSON(): CustomerDnsRecords {
    return Object.fromEntries(this.records);
  }

  /** Where `name:port` leads on the customer side, or `undefined` when the name does not exist there. */
  resolve(name: string, port: number): HostPort | undefined {
    const lower = name.toLowerCase().replace(/\.$/, '');
    const hostKey = lower.includes(':') ? `[${lower}]` : lower;
    const value = this.records.get(`${hostKey}:${port}`) ?? this.records.get(hostKey);
    return value === undefined ? undefined : parseHostPort(value, port);
  }
}
