import net, { type Socket } from 'node:net';
import { Socks5Reply } from '../socks5/protocol.js';
import type { DirectReads } from '../net/direct-reads.js';
import type { HostPort } from './customer-dns.js';

/** Connects the test proxy to a request's destination, and names a failure the way a real proxy's reply does. */

/** Resolves once connected; rejects with the socket error, or `ETIMEDOUT` after `timeoutMs`. */
export function dialUpstream(target: HostPort, directReads: DirectReads, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const upstream = net.connect({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true, onread: directReads.onread });
    const timer = setTimeout(() => {
      upstream.destroy();
      reject(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    upstream.once('connect', () => {
      clearTimeout(timer);
      upstream.removeListener('error', onError);
      upstream.on('error', () => {}); // the relay adds its own; never uncaught
      resolve(upstream);
    });
    const onError = (err: Error): void => {
      clearTimeout(timer);
      reject(err);
    };
    upstream.once('error', onError);
  });
}

/** Maps a dial error to the reply a real proxy would send. */
export function replyForDialError(err: NodeJS.ErrnoException | undefined): number {
  switch (err?.code) {
    case 'ECONNREFUSED':
      return Socks5Reply.ConnectionRefused;
    case 'ENETUNREACH':
      return Socks5Reply.NetworkUnreachable;
    case 'EHOSTUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return Socks5Reply.HostUnreachable;
    case 'ETIMEDOUT':
      return Socks5Reply.TtlExpired;
    default:
      return Socks5Reply.GeneralFailure;
  }
}
