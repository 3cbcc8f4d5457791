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
  return new ServerHandshake(socket, callbacks, handshakeTimeoutMs).run();
}

type EndedOutcome = Exclude<HandshakeOutcome, { kind: 'established' }>;

/** One handshake's progress; each stage returns an outcome when the handshake ends there. */
class ServerHandshake {
  private readonly reader: MessageReader;
  private readonly state: HandshakeState = {};
  private stage: HandshakeStage = 'greeting';

  constructor(
    private readonly socket: Socket,
    private readonly callbacks: ServerHandshakeCallbacks,
    // Time spent in callbacks (dialling, fault delays) is not the client's fault, so it is not charged.
    private budget: number,
  ) {
    this.reader = new MessageReader(socket);
  }

  async run(): Promise<HandshakeOutcome> {
    try {
      const method = await this.greeting();
      if (typeof method !== 'number') return method;
      if (method === Socks5Method.UsernamePassword) {
        const ended = await this.auth();
        if (ended) return ended;
      }
      return await this.request(method);
    } catch (err) {
      if (!this.socket.destroyed) this.socket.destroy();
      return this.closedOutcome(err);
    }
  }

  /** Resolves with the selected method unless the handshake ended. */
  private async greeting(): Promise<number | EndedOutcome> {
    const greeting = await this.read(parseGreeting);
    this.state.offered = greeting.methods;
    const choice = await this.callbacks.selectMethod(greeting.methods, this.state);
    if (choice.kind === 'close') return this.serverClosed(choice.how);
    this.state.method = choice.method;
    await this.write(encodeMethodSelection({ method: choice.method }));
    if (choice.method === Socks5Method.NoAcceptable) return this.rejected();
    return choice.method;
  }

  private async auth(): Promise<EndedOutcome | undefined> {
    this.stage = 'auth';
    const creds = await this.read(parseUserPassRequest);
    this.state.user = creds.username;
    const verdict = this.callbacks.authenticate
      ? await this.callbacks.authenticate(creds.username, creds.password, this.state)
      : ({ kind: 'reject' } as const);
    if (verdict.kind === 'close') return this.serverClosed(verdict.how);
    const ok = verdict.kind === 'accept';
    await this.write(encodeUserPassStatus({ status: ok ? UserPassStatus.Success : UserPassStatus.Failure }));
    return ok ? undefined : this.rejected();
  }

  private async request(method: number): Promise<HandshakeOutcome> {
    this.stage = 'request';
    const read = await this.readRequest();
    if ('kind' in read) return read;
    const { request } = read;
    const { state } = this;
    state.request = request;
    const decision = await this.callbacks.request(request, state);
    if (decision.kind === 'close') return this.serverClosed(decision.how);
    await this.write(encodeReply({ code: decision.code, bound: decision.bound }));
    if (decision.code !== Socks5Reply.Succeeded) return this.rejected(decision.code);
    if (this.socket.destroyed) return { kind: 'closed', stage: this.stage, state, cause: 'client-closed' };
    return { kind: 'established', state: { ...state, method, request }, replyCode: decision.code, rest: this.reader.takeRest() };
  }

  private async readRequest(): Promise<{ request: Socks5Request } | EndedOutcome> {
    try {
      return { request: await this.read(parseRequest) };
    } catch (err) {
      // A request that parses far enough to show what is wrong still gets its RFC 1928 reply.
      if (err instanceof Socks5ProtocolError && err.reply !== undefined) {
        await this.write(encodeReply({ code: err.reply }));
        return this.rejected(err.reply);
      }
      throw err;
    }
  }

  private async read<T>(parse: (buf: Buffer) => Parsed<T> | undefined): Promise<T> {
    const started = Date.now();
    try {
      return (await this.reader.read(parse, started + this.budget)).value;
    } finally {
      this.budget -= Date.now() - started;
    }
  }

  private write(bytes: Buffer): Promise<void> {
    return this.callbacks.write ? this.callbacks.write(this.socket, bytes, this.stage) : writeAll(this.socket, bytes);
  }

  /** After the last reply: FIN and linger. */
  private rejected(replyCode?: number): EndedOutcome {
    endAndLinger(this.socket);
    const { stage, state } = this;
    return replyCode === undefined ? { kind: 'rejected', stage, state } : { kind: 'rejected', stage, state, replyCode };
  }

  /** A callback chose to close instead of answering. */
  private serverClosed(how: CloseHow): EndedOutcome {
    closeSocket(this.socket, how);
    return { kind: 'closed', stage: this.stage, state: this.state, cause: 'server-closed' };
  }

  private closedOutcome(err: unknown): EndedOutcome {
    const { stage, state } = this;
    if (err instanceof MessageReadError) {
      const cause = err.cause_ === 'closed' ? 'client-closed' : err.cause_ === 'timeout' ? 'timeout' : 'socket-error';
      return { kind: 'closed', stage, state, cause, error: { code: err.code, message: err.message } };
    }
    if (err instanceof Socks5ProtocolError) {
      return { kind: 'closed', stage, state, cause: 'protocol-error', error: { code: err.code, message: err.message } };
    }
    const e = err as Error;
    return { kind: 'closed', stage, state, cause: 'socket-error', error: { code: 'socks5_internal', message: e?.message ?? String(err) } };
  }
}
