import { splitHostPort } from '../go/net.js';
import { needMore, noMatch, type ProtocolMatch } from './protocol-match.js';

export const Ascii = {
  A: 0x41,
  Z: 0x5a,
  Space: 0x20,
  Tab: 0x09,
  Cr: 0x0d,
  Lf: 0x0a,
  Hyphen: 0x2d,
  Underscore: 0x5f,
} as const;
/** Longer than any registered method; a longer uppercase run followed by a space is not HTTP. */
export const maxMethodLength = 32;
const httpVersion = /^HTTP\/\d+\.\d+$/;
const absoluteUri = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//;

/**
 * http: the first line starts with an uppercase method token. The head is parsed once it is complete
 * (`\r\n\r\n` or `\n\n`). The host comes from an absolute-URI (or CONNECT authority) first, then the
 * Host header; lowercased, port stripped. A request without a host is unknown `missing_host`.
 */
export function matchHttp(buf: Buffer): ProtocolMatch {
  const methodEnd = scanMethod(buf);
  if (methodEnd === 'no') return noMatch;
  if (methodEnd === 'more') return needMore;
  const headEnd = findHeadEnd(buf, methodEnd);
  if (headEnd < 0) return needMore;
  const lines = buf.toString('latin1', 0, headEnd).split('\n');
  const requestLine = stripCr(lines[0] ?? '');
  const firstSpace = requestLine.indexOf(' ');
  const secondSpace = requestLine.indexOf(' ', firstSpace + 1);
  if (secondSpace < 0) return noMatch;
  const method = requestLine.slice(0, firstSpace);
  const target = requestLine.slice(firstSpace + 1, secondSpace);
  if (!httpVersion.test(requestLine.slice(secondSpace + 1)) || target === '') return noMatch;

  let authority: string | undefined;
  if (absoluteUri.test(target)) authority = authorityOfUri(target);
  else if (method === 'CONNECT' && !target.startsWith('/')) authority = target;
  let hostHeader: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = stripCr(lines[i]!);
    if (line === '') break;
    if (line.startsWith(' ') || line.startsWith('\t')) continue; // obsolete line folding
    const colon = line.indexOf(':');
    if (colon <= 0) return noMatch; // a malformed header line: not an HTTP request head
    if (hostHeader === undefined && line.slice(0, colon).toLowerCase() === 'host') {
      hostHeader = line.slice(colon + 1).trim();
    }
  }
  const host = normalizeHost(authority || hostHeader || '');
  if (host === '') return { kind: 'unknown', reason: 'missing_host' };
  return { kind: 'matched', appProtocol: 'http', host };
}

function scanMethod(buf: Buffer): number | 'no' | 'more' {
  if (buf.length === 0) return 'more';
  const first = buf[0]!;
  if (first < Ascii.A || first > Ascii.Z) return 'no';
  const limit = Math.min(buf.length, maxMethodLength + 1);
  for (let i = 1; i < limit; i++) {
    const c = buf[i]!;
    if (c === Ascii.Space) return i;
    const tokenChar = (c >= Ascii.A && c <= Ascii.Z) || c === Ascii.Hyphen || c === Ascii.Underscore;
    if (!tokenChar) return 'no';
  }
  return buf.length > maxMethodLength ? 'no' : 'more';
}

/** Index just past the blank line that ends the head, or -1. Lines end in LF, optionally after CR. */
function findHeadEnd(buf: Buffer, from: number): number {
  let lf = buf.indexOf(Ascii.Lf, from);
  while (lf >= 0) {
    const next = lf + 1;
    if (next < buf.length && buf[next] === Ascii.Lf) return next + 1;
    if (next + 1 < buf.length && buf[next] === Ascii.Cr && buf[next + 1] === Ascii.Lf) return next + 2;
    lf = buf.indexOf(Ascii.Lf, next);
  }
  return -1;
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** `scheme://[userinfo@]authority[/path][?query]` → authority. */
function authorityOfUri(uri: string): string {
  const start = uri.indexOf('://') + 3;
  let end = uri.length;
  for (const stop of ['/', '?', '#']) {
    const i = uri.indexOf(stop, start);
    if (i >= 0 && i < end) end = i;
  }
  const authority = uri.slice(start, end);
  return authority.slice(authority.lastIndexOf('@') + 1);
}

/**
 * Upstream's normalizeHost (proxy/server.go:1116 @b1f245c2), used for HTTP Host, TLS SNI and again by
 * host verification: trim, lowercase, and when there is a colon Go's net.SplitHostPort, whose failure
 * leaves no host. So `[v6]:port` becomes the bare literal, but `[v6]`, a bare IPv6 literal and `a:b:c`
 * become empty (`missing_host` / `missing_sni`), and a bare literal reaching verification fails it.
 */
export function normalizeHost(raw: string): string {
  const host = raw.trim().toLowerCase();
  if (!host.includes(':')) return host;
  const split = splitHostPort(host);
  return split.ok ? split.host : '';
}
