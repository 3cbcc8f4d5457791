import type { PortSpec } from '../../policy/types.js';
import { goQuote } from '../../go/quote.js';
import { parseIntArg } from './flags.js';

/** `parsePortNumber` of the official CLI: a Go int32 parse, then 1..65535. */
export function parsePortNumber(raw: string): number {
  const value = parseIntArg(raw.trim(), 32);
  if (value < 1 || value > 65535) throw new Error('must be between 1 and 65535');
  return value;
}

/** `<port>[/tcp|udp]` or `<start>-<end>[/tcp|udp]` (`internal/commands/sandbox_network.go` parsePortSpec). */
export function parsePortSpec(raw: string): PortSpec {
  const value = raw.trim();
  if (value === '') throw new Error('value is required');
  let rangePart = value;
  let protocolPart = '';
  const slash = value.indexOf('/');
  if (slash >= 0) {
    rangePart = value.slice(0, slash).trim();
    protocolPart = value.slice(slash + 1).trim().toLowerCase();
  }
  if (rangePart === '') throw new Error('port is required');
  if (protocolPart !== '' && protocolPart !== 'tcp' && protocolPart !== 'udp') throw new Error('protocol must be tcp or udp');
  let startText = rangePart;
  let endText = '';
  const dash = rangePart.indexOf('-');
  if (dash >= 0) {
    startText = rangePart.slice(0, dash).trim();
    endText = rangePart.slice(dash + 1).trim();
  }
  let start: number;
  try {
    start = parsePortNumber(startText);
  } catch (err) {
    throw new Error(`invalid start port ${goQuote(startText)}: ${(err as Error).message}`);
  }
  const spec: PortSpec = { port: start };
  if (protocolPart !== '') spec.protocol = protocolPart;
  if (endText !== '') {
    let end: number;
    try {
      end = parsePortNumber(endText);
    } catch (err) {
      throw new Error(`invalid end port ${goQuote(endText)}: ${(err as Error).message}`);
    }
    if (end < start) throw new Error(`end port ${end} must be greater than or equal to start port ${start}`);
    spec.endPort = end;
  }
  return spec;
}
