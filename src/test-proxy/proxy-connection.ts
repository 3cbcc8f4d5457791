import type { Socket } from 'node:net';
import type { Logger } from '../log.js';
import { DirectReads } from '../net/direct-reads.js';
import { Socks5Command, Socks5Method, Socks5Reply, addressFor, type Socks5Request } from '../socks5/protocol.js';
import {
  serveSocks5Handshake,
  type AuthDecision,
  type HandshakeOutcome,
  type HandshakeStage,
  type HandshakeState,
  type MethodDecision,
  type RequestDecision,
  type ServerHandshakeCallbacks,
} from '../socks5/server-handshake.js';
import type { ActiveFault } from './active-faults.js';
import { ConnectionFaults } from './connection-faults.js';
import { ConnectionLog, type CloseCause, type LiveEntry } from './connection-log.js';
import { formatHostPort, type CustomerDnsView, type HostPort } from './customer-dns.js';
import { handshakeEndCause, methodName, relayEndCause } from './log-terms.js';
import { directReadBytes, startRelay, type Relay } from './relay.js';
import { dialUpstream, replyForDialError } from './upstream-dial.js';
import { routeRequest, type DirectIpPolicy } from './upstream-route.js';
import type { UserTable } from './users.js';

/** What every connection of one test proxy shares: its settings and its live state. */
export interface ProxyContext {
  auth: 'required' | 'none';
  users: UserTable;
  faults: readonly ActiveFault[];
  random: () => number;
  dns: CustomerDnsView;
  directIps: DirectIpPolicy;
  handshakeTimeoutMs: number;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  connectionLog: ConnectionLog;
  /** Connections not yet finished, for `stop()`. */
  live: Set<ProxyConnection>;
  log: Logger;
}

/**
 * One client connection of the test proxy: its SOCKS5 handshake (these methods are the handshake's
 * callbacks, with this connection's faults applied), the dial to the destination, then the relay;
 * everything it learns goes into its connection log entry as it happens.
 */
export class ProxyConnection implements ServerHandshakeCallbacks {
  readonly entry: LiveEntry;
  private readonly faults: ConnectionFaults;
  private upstream: Socket | undefined;
  private directReads: DirectReads | undefined;
  private relay: Relay | undefined;

  constructor(
    private readonly client: Socket,
    private readonly ctx: ProxyContext,
  ) {
    this.entry = ctx.connectionLog.open(formatHostPort({ host: client.remoteAddress ?? '?', port: client.remotePort ?? 0 }));
    this.faults = new ConnectionFaults(ctx.faults, ctx.random, this.entry);
  }

  start(): void {
    this.ctx.live.add(this);
    this.client.on('error', () => {});
    serveSocks5Handshake(this.client, this, { handshakeTimeoutMs: this.ctx.handshakeTimeoutMs })
      .then((outcome) => this.afterHandshake(outcome))
      .catch((err: unknown) => {
        // serveSocks5Handshake does not throw; this guards afterHandshake.
        this.client.destroy();
        this.upstream?.destroy();
        this.entry.error = (err as Error)?.message;
        this.finish('client-error');
      });
  }

  /** Ends the connection as the proxy stops. */
  stop(): void {
    if (this.relay) this.relay.stop('stopped');
    else {
      this.client.destroy();
      this.upstream?.destroy();
      ConnectionLog.close(this.entry, 'proxy-stopped');
    }
  }

  async selectMethod(offered: readonly number[], state: HandshakeState): Promise<MethodDecision> {
    const decisive = await this.faults.prepare('greeting', state);
    if (decisive?.kind === 'close') return decisive;
    this.entry.methods = offered.map(methodName);
    let method: number = Socks5Method.NoAcceptable;
    if (decisive?.kind !== 'refuse-methods') {
      if (this.ctx.auth === 'none' && offered.includes(Socks5Method.NoAuth)) method = Socks5Method.NoAuth;
      else if (offered.includes(Socks5Method.UsernamePassword)) method = Socks5Method.UsernamePassword;
    }
    this.entry.method = methodName(method);
    return { kind: 'method', method };
  }

  async authenticate(username: string, password: string, state: HandshakeState): Promise<AuthDecision> {
    this.entry.user = username;
    const decisive = await this.faults.prepare('auth', state);
    if (decisive?.kind === 'close') return decisive;
    const ok = decisive?.kind !== 'reject-auth' && (this.ctx.auth === 'none' || this.ctx.users.verify(username, password));
    this.entry.auth = ok ? 'accepted' : 'rejected';
    return ok ? { kind: 'accept' } : { kind: 'reject' };
  }

  async request(req: Socks5Request, state: HandshakeState): Promise<RequestDecision> {
    this.entry.atyp = req.address.atyp;
    this.entry.host = req.address.host;
    this.entry.port = req.address.port;
    const decisive = await this.faults.prepare('request', state);
    if (decisive?.kind === 'close') return decisive;
    if (decisive?.kind === 'reply') return { kind: 'reply', code: decisive.code };
    if (req.command !== Socks5Command.Connect) return { kind: 'reply', code: Socks5Reply.CommandNotSupported };
    const routed = routeRequest(req.address, this.ctx.dns, this.ctx.directIps);
    if ('reply' in routed) return { kind: 'reply', code: routed.reply };
    return this.connect(routed.target);
  }

  write(socket: Socket, bytes: Buffer, stage: HandshakeStage): Promise<void> {
    return this.faults.write(socket, bytes, stage);
  }

  private async connect(target: HostPort): Promise<RequestDecision> {
    this.entry.upstream = formatHostPort(target);
    try {
      this.directReads = new DirectReads(directReadBytes);
      const upstream = await dialUpstream(target, this.directReads, this.ctx.connectTimeoutMs);
      this.upstream = upstream;
      if (this.client.destroyed) {
        upstream.destroy();
        return { kind: 'close', how: 'fin' };
      }
      return { kind: 'reply', code: Socks5Reply.Succeeded, bound: addressFor(upstream.localAddress ?? '0.0.0.0', upstream.localPort ?? 0) };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      this.entry.error = `connect ${this.entry.upstream}: ${e.code ?? e.message}`;
      return { kind: 'reply', code: replyForDialError(e) };
    }
  }

  private afterHandshake(outcome: HandshakeOutcome): void {
    const { entry, client } = this;
    if (outcome.kind !== 'established') {
      this.upstream?.destroy();
      if (outcome.kind === 'rejected') {
        if (outcome.replyCode !== undefined) entry.replyCode = outcome.replyCode;
      } else if (outcome.error) entry.error = outcome.error.message;
      this.finish(handshakeEndCause(outcome));
      return;
    }
    entry.replyCode = outcome.replyCode;
    const upstream = this.upstream;
    if (!upstream) {
      client.destroy();
      this.finish('request-failed');
      return;
    }
    this.relay = startRelay(client, upstream, {
      idleTimeoutMs: this.ctx.idleTimeoutMs,
      shaping: this.faults.relayShaping(outcome.state),
      rest: outcome.rest,
      counters: entry,
      ...(this.directReads ? { directReads: this.directReads } : {}),
      onEnd: (end) => this.finish(relayEndCause(end)),
    });
  }

  private finish(cause: CloseCause): void {
    const { entry } = this;
    ConnectionLog.close(entry, cause);
    this.ctx.live.delete(this);
    this.ctx.log.debug({ id: entry.id, user: entry.user, atyp: entry.atyp, host: entry.host, port: entry.port, replyCode: entry.replyCode, cause }, 'connection closed');
  }
}
