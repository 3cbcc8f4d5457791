// Golden classification edges from upstream's classifier (fixtures/classification/upstream-edges.json).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { classifyTcp } from '../../../src/classify/classify-tcp.js';
import { auditProtocol, tcpFlowClassification } from '../../../src/gateway/flow-classification.js';
import { clientHelloMessage, tlsRecords } from './handshake-builders.js';

interface EdgeCase {
  id: string;
  why: string;
  ascii?: string;
  tls?: { serverName?: string; recordSize?: number; recordVersion?: number; overrunServerName?: boolean };
  expect: unknown;
  final?: unknown;
  protocol: string;
}

const file = join(dirname(fileURLToPath(import.meta.url)), '../../../fixtures/classification/upstream-edges.json');
const cases = (JSON.parse(readFileSync(file, 'utf8')) as { cases: EdgeCase[] }).cases;

function bytesOf(c: EdgeCase): Buffer {
  if (c.ascii !== undefined) return Buffer.from(c.ascii, 'latin1');
  const t = c.tls!;
  const message = t.overrunServerName
    ? clientHelloMessage({ extra: [{ type: 0x0000, data: Buffer.from('0010', 'hex') }] })
    : clientHelloMessage(t.serverName === undefined ? {} : { serverName: t.serverName });
  const records = Buffer.from(tlsRecords(message, t.recordSize));
  if (t.recordVersion !== undefined) records.writeUInt16BE(t.recordVersion, 1);
  return records;
}

describe('upstream classification edges', () => {
  for (const c of cases) {
    it(`${c.id}: ${c.why}`, () => {
      const bytes = bytesOf(c);
      const live = classifyTcp(bytes);
      expect(live).toEqual(c.expect);
      const final = classifyTcp(bytes, { final: true });
      expect(final).toEqual(c.final ?? c.expect);
      const decided = final.kind === 'need-more' ? undefined : tcpFlowClassification(final, () => undefined);
      expect(decided && auditProtocol(decided, 'tcp')).toBe(c.protocol);
    });
  }
});
