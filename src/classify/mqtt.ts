import { needMore, noMatch, startsWithPrefixOf, type ProtocolMatch } from './protocol-match.js';

/** CONNECT fixed-header byte: packet type 1, flags 0. */
export const mqttConnect = 0x10;
/** Protocol names and the levels each may carry (MQTT 3.1 `MQIsdp` v3; 3.1.1 / 5.0 `MQTT` v4 / v5). */
export const mqttProtocols = [
  { name: Buffer.from('\x00\x04MQTT', 'latin1'), levels: [4, 5] },
  { name: Buffer.from('\x00\x06MQIsdp', 'latin1'), levels: [3] },
] as const;
/** Remaining Length is a varint of at most 4 bytes, 7 bits each, high bit = continuation. */
const maxRemainingLengthBytes = 4;
const continuationBit = 0x80;

/** mqtt: a CONNECT packet naming `MQTT` (level 4 or 5) or `MQIsdp` (level 3). Carries no host. */
export function matchMqtt(buf: Buffer): ProtocolMatch {
  if (buf.length === 0) return needMore;
  if (buf[0] !== mqttConnect) return noMatch;
  let p = 1;
  for (;;) {
    if (p >= buf.length) return needMore;
    const byte = buf[p++]!;
    if ((byte & continuationBit) === 0) break;
    if (p - 1 >= maxRemainingLengthBytes) return noMatch;
  }
  const rest = buf.subarray(p);
  let anyPrefix = false;
  for (const protocol of mqttProtocols) {
    if (!startsWithPrefixOf(rest, protocol.name)) continue;
    if (rest.length <= protocol.name.length) {
      anyPrefix = true;
      continue;
    }
    const level = rest[protocol.name.length]!;
    if ((protocol.levels as readonly number[]).includes(level)) return { kind: 'matched', appProtocol: 'mqtt' };
  }
  return anyPrefix ? needMore : noMatch;
}
