import { EmulatorError } from '../errors.js';
import type { ClientOutcome } from '../socks5/client.js';
import { Socks5Reply } from '../socks5/protocol.js';

/** Where a dial failed: the audit's `error_step`. */
export type DialStep =
  | 'proxy_resolve'
  | 'proxy_protected'
  | 'proxy_connect'
  | 'proxy_timeout'
  | 'proxy_method'
  | 'proxy_auth'
  | 'proxy_reply'
  | 'proxy_protocol'
  | 'upstream_no_route'
  | 'upstream_connect'
  | 'upstream_timeout';

/** A typed dial failure (code `dial_<step>`). Messages never contain a secret. */
export class DialError extends EmulatorError {
  readonly step: DialStep;
  readonly replyCode?: number;
  /** The gateway's own `address:port` on its connection to the proxy (the proxy log's `client`), once connected. */
  proxySource?: string;
  constructor(step: DialStep, message: string, replyCode?: number) {
    super(`dial_${step}`, message);
    this.name = 'DialError';
    this.step = step;
    this.replyCode = replyCode;
  }
}

export const socksReplyMeaning: Record<number, string> = {
  0x01: 'general SOCKS server failure',
  0x02: 'connection not allowed by ruleset',
  0x03: 'network unreachable',
  0x04: 'host unreachable',
  0x05: 'connection refused',
  0x06: 'TTL expired',
  0x07: 'command not supported',
  0x08: 'address type not supported',
};

/** Connection failures that mean the proxy cannot be reached (anything else is a protocol failure). */
const unreachable = /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ECONNRESET|EADDRNOTAVAIL/;

/** A failed connection to the proxy, or a socket error during the handshake; `detail` is `ECONNREFUSED 10.0.0.1:1080` or Node's `read ECONNRESET`. */
export function proxyConnectError(proxy: string, code: string | undefined, detail: string): DialError {
  if (unreachable.test(code ?? detail)) return new DialError('proxy_connect', `cannot connect to SOCKS5 proxy ${proxy}: ${detail.replace(/^connect /, '')}`);
  return new DialError('proxy_protocol', `SOCKS5 handshake with ${proxy} failed: ${detail}`);
}

/**
 * The audit's wording of a failed SOCKS5 handshake (the texts the gateway has always written). A
 * refusal outside RFC 1928's codes 0x01-0x08 (or a "succeeded" reply that is not SOCKS5) counts as 0x01.
 */
export function proxyDialError(proxy: string, outcome: Exclude<ClientOutcome, { kind: 'established' }>): DialError {
  switch (outcome.kind) {
    case 'timeout':
      return new DialError('proxy_timeout', `SOCKS5 proxy ${proxy} did not complete the handshake in time`);
    case 'closed':
      return new DialError('proxy_protocol', `SOCKS5 proxy ${proxy} closed the connection during the handshake`);
    case 'socket-error':
      return proxyConnectError(proxy, outcome.code, outcome.message);
  }
  const failure = outcome.failure;
  switch (failure.kind) {
    case 'rejected': {
      const code = socksReplyMeaning[failure.code] ? failure.code : Socks5Reply.GeneralFailure;
      return new DialError('proxy_reply', `SOCKS5 proxy ${proxy} refused the CONNECT: reply 0x0${code.toString(16)} (${socksReplyMeaning[code]})`, code);
    }
    case 'method-refused':
      return new DialError('proxy_method', `SOCKS5 proxy ${proxy} accepted none of the offered methods (no acceptable authentication methods)`);
    case 'auth-failed':
      return new DialError('proxy_auth', `SOCKS5 proxy ${proxy} rejected the username/password (username/password authentication failed)`);
    case 'bad-version':
      return new DialError('proxy_protocol', `SOCKS5 handshake with ${proxy} failed: Received invalid Socks5 initial handshake (invalid socks version)`);
    case 'unknown-method':
      return new DialError('proxy_protocol', `SOCKS5 handshake with ${proxy} failed: Received invalid Socks5 initial handshake (unknown authentication type)`);
    case 'malformed':
      return new DialError('proxy_protocol', `SOCKS5 handshake with ${proxy} failed: ${failure.message}`);
  }
}
