import type { Socket } from 'node:net';
import { MessageReadError, MessageReader } from './message-reader.js';
import {
  Socks5Method,
  Socks5ProtocolError,
  Socks5Reply,
  UserPassStatus,
  encodeMethodSelection,
  encodeReply,
  encodeUserPassStatus,
  parseGreeting,
  parseRequest,
  parseUserPassRequest,
  type Parsed,
  type Socks5Address,
  type Socks5Request,
} from './protocol.js';

/**
 * The server side of a SOCKS5 handshake (greeting → method → optional RFC 1929 auth → request → reply),
 * as a state machine over one socket. What to answer at each step is decided by callbacks, so the test
 * proxy (with its faults) and the gateway's explicit ingress share it. It never throws: every way a
 * handshake can end is an outcome value.
 */

export type HandshakeStage = 'greeting' | 'auth' | 'request';

/** FIN (a normal close) or RST. */
export type CloseHow = 'fin' | 'reset';

export type MethodDecision = { kind: 'method'; method: number } | { kind: 'close'; how: CloseHow };
export type AuthDecision = { kind: 'accept' } | { kind: 'reject' } | { kind: 'close'; how: CloseHow };
export type RequestDecision =
  | { kind: 'reply'; code: number; bound?: Socks5Address }
  | { kind: 'close'; how: CloseHow };

export interface HandshakeState {
  /** Methods the client offered. */
  offered?: number[];
  method?: number;
  user?: string;
  request?: Socks5Request;
}

export interface ServerHandshakeCallbacks {
  /** Picks the method among those offered (return `Socks5Method.NoAcceptable` to refuse them all). */
  selectMethod(offered: readonly number[], state: HandshakeState): MethodDecision | Promise<MethodDecision>;
  /** Only called when username/password was selected. The password must not be logged. */
  authenticate?(username: string, password: string, state: HandshakeState): AuthDecision | Promise<AuthDecision>;
  /** Decides the reply to a request (typically after dialling the destination). */
  request(request: Socks5Request, state: HandshakeState): RequestDecision | Promise<RequestDecision>;
  /** Writes a handshake reply; override to shape writes (fragmentation). Resolves once written. */
  write?(socket: Socket, bytes: Buffer, stage: HandshakeStage): Promise<void>;
}

export interface ServerHandshakeOptions {
  /** Budget for the client to send its greeting, credentials and request (time in callbacks excluded). */
  handshakeTimeoutMs?: number;
}

export type HandshakeOutcome =
  | {
      kind: 'established';
      state: Required<Pick<HandshakeState, 'method' | 'request'>> & HandshakeState;
      replyCode: number;
      /** Bytes the client sent after its request, to forward upstream first. */
      rest: Buffer;
    }
  | { kind: 'rejected'; stage: HandshakeStage; state: HandshakeState; replyCode?: number }
  | {
      kind: 'closed';
      stage: HandshakeStage;
      state: HandshakeState;
      cause: 'client-closed' | 'timeout' | 'socket-error' | 'protocol-error' | 'server-closed';
      error?: { code: string; message: string };
    };

export const defaultHandshakeTimeoutMs = 10_000;

export async function writeAll(socket: Socket, bytes: Buffer): Promise<void> {
  if (socket.destroyed || !socket.writable) return;
  await new Promise<void>((resolve) => {
    socket.write(bytes, () => resolve());
  });
}

/** How long a refused client has to close its side after our FIN before its socket is destroyed. */
export const closeLingerMs = 1_000;

/**
 * Ends the connection after the last reply: FIN, then whatever the client still sends is read and
 * dropped (so its own FIN is seen and the socket is freed), and a client that never closes its side is
 * cut off after `lingerMs` instead of holding the socket for as long as it likes.
 */
export function endAndLinger(socket: Socket, data?: string | Buffer, lingerMs = closeLingerMs): void {
  if (socket.destroyed) return;
  socket.on('error', () => {});
  if (data === undefined) socket.end();
  else socket.end(data);
  socket.resume();
  const timer = setTimeout(() => socket.destroy(), lingerMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

function closeSocket(socket: Socket, how: CloseHow): void {
  if (how === 'reset') socket.resetAndDestroy();
  else endAndLinger(socket);
}

/** Runs the handshake. The socket is left open only for `established`; the caller owns it then. */
export async function serveSocks5Handshake(
  socket: Socket,
  callbacks: ServerHandshakeCallbacks,
  { handshakeTimeoutMs = defaultHandshakeTimeoutMs }: ServerHandshakeOptions = {},
): Promise<HandshakeOutcome> {
  // A socket error after our reader detached must never become an uncaught exception; the listener stays
  // for the socket's life (the caller may add its own).
  socket.on('error', () => {});
  const reader = new MessageReader(socket);
  const write = (bytes: Buffer, stage: HandshakeStage): Promise<void> =>
    callbacks.write ? callbacks.write(socket, bytes, stage) : writeAll(socket, bytes);
  const state: HandshakeState = {};
  let stage: HandshakeStage = 'greeting';
  // Time spent in callbacks (dialling, fault delays) is not the client's fault, so it is not charged.
  let budget = handshakeTimeoutMs;
  const read = async <T>(parse: (buf: Buffer) => Parsed<T> | undefined): Promise<T> => {
    const started = Date.now();
    try {
      return (await reader.read(parse, started + budget)).value;
    } finally {
      budget -= Date.now() - started;
    }
  };
  const closedOutcome = (err: unknown): HandshakeOutcome => {
    if (err instanceof MessageReadError) {
      const cause = err.cause_ === 'closed' ? 'client-closed' : err.cause_ === 'timeout' ? 'timeout' : 'socket-error';
      return { kind: 'closed', stage, state, cause, error: { code: err.code, message: err.message } };
    }
    if (err instanceof Socks5ProtocolError) {
      return { kind: 'closed', stage, state, cause: 'protocol-error', error: { code: err.code, message: err.message } };
    }
    const e = err as Error;
    return { kind: 'closed', stage, state, cause: 'socket-error', error: { code: 'socks5_internal', message: e?.message ?? String(err) } };
  };

  try {
    const greeting = await read(parseGreeting);
    state.offered = greeting.methods;
    const choice = await callbacks.selectMethod(greeting.methods, state);
    if (choice.kind === 'close') {
      closeSocket(socket, choice.how);
      return { kind: 'closed', stage, state, cause: 'server-closed' };
    }
    state.method = choice.method;
    await write(encodeMethodSelection({ method: choice.method }), stage);
    if (choice.method === Socks5Method.NoAcceptable) {
      endAndLinger(socket);
      return { kind: 'rejected', stage, state };
    }

    if (choice.method === Socks5Method.UsernamePassword) {
      stage = 'auth';
      const creds = await read(parseUserPassRequest);
      state.user = creds.username;
      const verdict = callbacks.authenticate
        ? await callbacks.authenticate(creds.username, creds.password, state)
        : ({ kind: 'reject' } as const);
      if (verdict.kind === 'close') {
        closeSocket(socket, verdict.how);
        return { kind: 'closed', stage, state, cause: 'server-closed' };
      }
      const ok = verdict.kind === 'accept';
      await write(encodeUserPassStatus({ status: ok ? UserPassStatus.Success : UserPassStatus.Failure }), stage);
      if (!ok) {
        endAndLinger(socket);
        return { kind: 'rejected', stage, state };
      }
    }

    stage = 'request';
    let request: Socks5Request;
    try {
      request = await read(parseRequest);
    } catch (err) {
      // A request that parses far enough to show what is wrong still gets its RFC 1928 reply.
      if (err instanceof Socks5ProtocolError && err.reply !== undefined) {
        await write(encodeReply({ code: err.reply }), stage);
        endAndLinger(socket);
        return { kind: 'rejected', stage, state, replyCode: err.reply };
      }
      throw err;
    }
    state.request = request;
    const decision = await callbacks.request(request, state);
    if (decision.kind === 'close') {
      closeSocket(socket, decision.how);
      return { kind: 'closed', stage, state, cause: 'server-closed' };
    }
    await write(encodeReply({ code: decision.code, bound: decision.bound }), stage);
    if (decision.code !== Socks5Reply.Succeeded) {
      endAndLinger(socket);
      return { kind: 'rejected', stage, state, replyCode: decision.code };
    }
    if (socket.destroyed) return { kind: 'closed', stage, state, cause: 'client-closed' };
    return {
      kind: 'established',
      state: { ...state, method: choice.method, request },
      replyCode: decision.code,
      rest: reader.takeRest(),
    };
  } catch (err) {
    if (!socket.destroyed) socket.destroy();
    return closedOutcome(err);
  }
}
