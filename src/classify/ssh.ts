import { needMore, noMatch, startsWithPrefixOf, type ProtocolMatch } from './protocol-match.js';

/** RFC 4253 §4.2: the identification string starts with `SSH-` and ends with CR LF (LF tolerated). */
export const sshBannerPrefix = Buffer.from('SSH-', 'latin1');
export const lineFeed = 0x0a;

/** ssh: a client banner `SSH-…` ending in a newline. Carries no host. */
export function matchSsh(buf: Buffer): ProtocolMatch {
  if (!startsWithPrefixOf(buf, sshBannerPrefix)) return noMatch;
  if (buf.length <= sshBannerPrefix.length || buf.indexOf(lineFeed, sshBannerPrefix.length) < 0) return needMore;
  return { kind: 'matched', appProtocol: 'ssh' };
}
