import { Socks5Method } from '../socks5/protocol.js';
import type { HandshakeOutcome, HandshakeStage } from '../socks5/server-handshake.js';
import type { AuthMethod, CloseCause } from './connection-log.js';
import type { RelayEnd } from './relay.js';

/** How the connection log names what happened on the wire: auth methods and why a connection ended. */

const handshakeCloseCause: Record<Extract<HandshakeOutcome, { kind: 'closed' }>['cause'], CloseCause> = {
  timeout: 'handshake-timeout',
  'protocol-error': 'protocol-error',
  // Only a fault closes on purpose during the handshake.
  'server-closed': 'fault',
  'socket-error': 'client-error',
  'client-closed': 'client-closed',
};

const rejectedCloseCause: Record<HandshakeStage, CloseCause> = {
  greeting: 'method-refused',
  auth: 'auth-failed',
  request: 'request-failed',
};

/** Why a handshake that did not establish a relay ended. */
export function handshakeEndCause(outcome: Exclude<HandshakeOutcome, { kind: 'established' }>): CloseCause {
  return outcome.kind === 'rejected' ? rejectedCloseCause[outcome.stage] : handshakeCloseCause[outcome.cause];
}

export function relayEndCause(end: RelayEnd): CloseCause {
  return end === 'stopped' ? 'proxy-stopped' : end;
}

export function methodName(method: number): AuthMethod {
  switch (method) {
    case Socks5Method.NoAuth:
      return 'none';
    case Socks5Method.UsernamePassword:
      return 'username-password';
    case Socks5Method.NoAcceptable:
      return 'no-acceptable';
    default:
      return 'other';
  }
}
