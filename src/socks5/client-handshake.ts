import {
  SOCKS_VERSION,
  Socks5Command,
  Socks5Method,
  Socks5ProtocolError,
  Socks5Reply,
  UserPassStatus,
  encodeGreeting,
  encodeRequest,
  encodeUserPassRequest,
  parseReply,
  type Socks5Address,
} from './protocol.js';

/**
 * The client side of a SOCKS5 CONNECT (RFC 1928, RFC 1929 auth) as a pure state machine: bytes from
 * the proxy in, bytes to send and an outcome out. No sockets, timers or ticks: the socket driver
 * (client.ts) feeds it what it reads and writes what it says.
 *
 * greeting (no-auth, plus username/password when there are credentials) → method selection →
 * optional RFC 1929 auth → CONNECT request → reply. Bytes after the reply are the surplus: the first
 * bytes of the proxied stream, handed back with the outcome.
 */

export type ClientStage = 'method' | 'auth' | 'reply';

export interface ClientHandshakeOptions {
  target: Socks5Address;
  /** Offered as RFC 1929 username/password next to no-auth. Never part of any failure. */
  credentials?: { username: string; password: string };
}

/** Why a handshake failed. Carries no bytes of the credentials. */
export type ClientFailure =
  /** The proxy selected 0xFF: none of the offered methods. */
  | { kind: 'method-refused' }
  /** The method selection was not SOCKS5. */
  | { kind: 'bad-version'; stage: 'method' }
  /** The proxy selected a method that is neither no-auth nor username/password. */
  | { kind: 'unknown-method'; method: number }
  /** RFC 1929 status other than success. */
  | { kind: 'auth-failed'; status: number }
  /** The CONNECT reply was not "succeeded" (or was not SOCKS5): `code` as sent. */
  | { kind: 'rejected'; code: number; version: number }
  /** The reply can never be valid (an unknown address type), or the request cannot be encoded (a name over 255 bytes). */
  | { kind: 'malformed'; stage: ClientStage; code: string; message: string };

export type ClientStep =
  | { kind: 'continue'; send: Buffer[] }
  | { kind: 'established'; send: Buffer[]; bound: Socks5Address; surplus: Buffer }
  | { kind: 'failed'; stage: ClientStage; failure: ClientFailure };

const empty = Buffer.alloc(0);
/** A reply's VER REP RSV ATYP and the first address byte: enough to judge a refusal. */
const replyHeadBytes = 5;

export class Socks5ClientHandshake {
  private stage: ClientStage = 'method';
  private buffered: Buffer = empty;

  constructor(private readonly options: ClientHandshakeOptions) {}

  /** Where the handshake is: the message it waits for. */
  get waitingFor(): ClientStage {
    return this.stage;
  }

  /** The first message: the greeting offering no-auth, and username/password with credentials. */
  greeting(): Buffer {
    const methods: number[] = [Socks5Method.NoAuth];
    if (this.options.credentials) methods.push(Socks5Method.UsernamePassword);
    return encodeGreeting({ methods });
  }

  /** Feeds bytes read from the proxy (kept only by reference: pass a copy of a reused buffer). */
  receive(chunk: Buffer): ClientStep {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const send: Buffer[] = [];
    try {
      for (;;) {
        const step = this.advance(send);
        if (step === 'need-more') return { kind: 'continue', send };
        if (step !== 'consumed') return step;
      }
    } catch (err) {
      // Bytes that can never become a valid reply, or a request the codec cannot encode.
      if (!(err instanceof Socks5ProtocolError)) throw err;
      return this.fail({ kind: 'malformed', stage: this.stage, code: err.code, message: err.message });
    }
  }

  /** Takes one message of the current stage off the buffered bytes. */
  private advance(send: Buffer[]): ClientStep | 'consumed' | 'need-more' {
    const buf = this.buffered;
    if (this.stage === 'reply') return this.onReply(send);
    if (buf.length < 2) return 'need-more';
    this.buffered = buf.subarray(2);
    if (this.stage === 'method') return this.onMethod(buf[0]!, buf[1]!, send);
    // RFC 1929 status: only the status byte counts, whatever the version byte says.
    if (buf[1] !== UserPassStatus.Success) return this.fail({ kind: 'auth-failed', status: buf[1]! });
    return this.sendRequest(send);
  }

  private onMethod(version: number, method: number, send: Buffer[]): ClientStep | 'consumed' {
    if (version !== SOCKS_VERSION) return this.fail({ kind: 'bad-version', stage: 'method' });
    if (method === Socks5Method.NoAcceptable) return this.fail({ kind: 'method-refused' });
    if (method === Socks5Method.NoAuth) return this.sendRequest(send);
    if (method !== Socks5Method.UsernamePassword) return this.fail({ kind: 'unknown-method', method });
    // A proxy that picks username/password unasked gets empty credentials (and says no, presumably).
    send.push(encodeUserPassRequest(this.options.credentials ?? { username: '', password: '' }));
    this.stage = 'auth';
    return 'consumed';
  }

  private sendRequest(send: Buffer[]): 'consumed' {
    send.push(encodeRequest({ command: Socks5Command.Connect, address: this.options.target }));
    this.stage = 'reply';
    return 'consumed';
  }

  /** The CONNECT reply: judged as a refusal from its first bytes, as established once whole. */
  private onReply(send: Buffer[]): ClientStep | 'need-more' {
    const buf = this.buffered;
    if (buf.length < replyHeadBytes) return 'need-more';
    if (buf[0] !== SOCKS_VERSION || buf[1] !== Socks5Reply.Succeeded) return this.fail({ kind: 'rejected', code: buf[1]!, version: buf[0]! });
    const parsed = parseReply(buf);
    if (!parsed) return 'need-more';
    this.buffered = empty;
    return { kind: 'established', send, bound: parsed.value.bound, surplus: buf.subarray(parsed.length) };
  }

  private fail(failure: ClientFailure): ClientStep {
    this.buffered = empty;
    return { kind: 'failed', stage: this.stage, failure };
  }
}
