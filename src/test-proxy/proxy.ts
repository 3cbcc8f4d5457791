import { timingSafeEqual } from 'node:crypto';
import net, { type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { EmulatorError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import {
  MAX_CREDENTIAL_BYTES,
  Socks5Command,
  Socks5Method,
  Socks5Reply,
  addressFor,
  type Socks5Address,
  type Socks5Request,
} from '../socks5/protocol.js';
import {
  serveSocks5Handshake,
  writeAll,
  type HandshakeOutcome,
  type HandshakeStage,
  type HandshakeState,
  type MethodDecision,
  type RequestDecision,
} from '../socks5/server-handshake.js';
import { ConnectionLog, type AuthMethod, type CloseCause, type ConnectionLogEntry, type ConnectionLogFilter, type LiveEntry } from './connection-log.js';
import { CustomerDnsView, formatHostPort, type CustomerDnsRecords, type HostPort } from './customer-dns.js';
import { matches, type FaultContext, type FaultDefinition, type FaultEffect, type FaultKind, type FaultPhase } from './faults/fault.js';
import { faultKinds, parseFaultDefinition } from './faults/registry.js';
import { DirectReads } from '../net/direct-reads.js';
import { directReadBytes, startRelay, type Relay, type RelayShaping } from './relay.js';

/**
 * The embedded "customer" SOCKS5 proxy: RFC 1928/1929 with real users, a customer-side DNS view, a
 * CONNECT relay, a connection log and Toxiproxy-shaped faults.
 */

export interface TestProxyUser {
  username: string;
  password: string;
}

export const defaultTestProxyUsers: readonly TestProxyUser[] = [{ username: 'proxy-user', password: 'proxy-pass' }];

/** Which IP-literal destinations (not in the customer view) the proxy dials directly. */
export type DirectIpPolicy = 'any' | 'loopback' | 'none';

export interface TestProxyOptions {
  host?: string;
  port?: number;
  users?: readonly TestProxyUser[];
  /** `required`: only username/password (0x02) is accepted; `none`: no-auth (0x00) is accepted too. */
  auth?: 'required' | 'none';
  customerDns?: CustomerDnsRecords;
  /** Fault definitions (wire shape) active from the start. */
  faults?: readonly unknown[];
  directIps?: DirectIpPolicy;
  handshakeTimeoutMs?: number;
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  logCapacity?: number;
  logger?: Logger;
  /** Draws toxicity; injectable for tests. */
  random?: () => number;
}

export interface TestProxyFaults {
  /** Validates and adds; throws `FaultDefinitionError` (bad input) or `EmulatorError('fault_exists')`. */
  add(definition: unknown): FaultDefinition;
  list(): FaultDefinition[];
  /** false when no fault has that name. */
  remove(name: string): boolean;
  clear(): void;
}

export interface TestProxyConnections {
  list(filter?: ConnectionLogFilter): ConnectionLogEntry[];
  clear(): void;
}

export interface TestProxy {
  /** `host:port` to give clients. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** Replacing validates (RFC 1929 limits) and applies to new connections. */
  users: readonly TestProxyUser[];
  customerDns: CustomerDnsRecords;
  readonly faults: TestProxyFaults;
  readonly connections: TestProxyConnections;
  /** Back to the options given at creation: users, DNS view, faults; empties the log. */
  reset(): void;
  /** Its server is listening (false once stopped or closed). */
  healthy(): boolean;
  stop(): Promise<void>;
}

const userSchema = z
  .object({
    username: z.string().min(1, 'username must not be empty').refine((u) => Buffer.byteLength(u) <= MAX_CREDENTIAL_BYTES, 'username is longer than 255 bytes'),
    password: z.string().min(1, 'password must not be empty').refine((p) => Buffer.byteLength(p) <= MAX_CREDENTIAL_BYTES, 'password is longer than 255 bytes'),
  })
  .strict();
export const testProxyUsersSchema = z.array(userSchema).refine((us) => new Set(us.map((u) => u.username)).size === us.length, 'usernames must be unique');

export function validateUsers(users: unknown): TestProxyUser[] {
  const parsed = testProxyUsersSchema.safeParse(users);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // Issue messages never include the value, so a bad password is not echoed.
    throw new EmulatorError('invalid_users', `users${issue?.path.length ? '.' + issue.path.map(String).join('.') : ''}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

interface ActiveFault {
  definition: FaultDefinition;
  kind: FaultKind<unknown>;
}

/** Maps a dial error to the reply a real proxy would send. */
function replyForDialError(err: NodeJS.ErrnoException | undefined): number {
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

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

// Strict dotted-quad / IPv6 text only: ipaddr.js would also take forms like `0x7f.1`, which are names here.
const isIpLiteral = (host: string): boolean => net.isIP(host) !== 0;

export async function createTestProxy({
  host = '127.0.0.1',
  port = 0,
  users = defaultTestProxyUsers,
  auth = 'required',
  customerDns = {},
  faults = [],
  directIps = 'any',
  handshakeTimeoutMs = 10_000,
  connectTimeoutMs = 10_000,
  idleTimeoutMs = 300_000,
  logCapacity = 1000,
  logger = silentLogger(),
  random = Math.random,
}: TestProxyOptions = {}): Promise<TestProxy> {
  const log = logger.child({ component: 'test-proxy' });
  const initialUsers = validateUsers(users);
  let userTable = new Map(initialUsers.map((u) => [u.username, u.password]));
  const dns = new CustomerDnsView(customerDns);
  const connectionLog = new ConnectionLog(logCapacity);
  const activeFaults: ActiveFault[] = [];
  const live = new Set<{ client: Socket; upstream?: Socket; relay?: Relay; entry: LiveEntry }>();

  const faultApi: TestProxyFaults = {
    add(input) {
      const definition = parseFaultDefinition(input);
      if (activeFaults.some((f) => f.definition.name === definition.name)) {
        throw new EmulatorError('fault_exists', `a fault named ${JSON.stringify(definition.name)} already exists`);
      }
      activeFaults.push({ definition, kind: faultKinds.get(definition.type) as FaultKind<unknown> });
      log.info({ fault: definition }, 'fault added');
      return definition;
    },
    list: () => activeFaults.map((f) => structuredClone(f.definition)),
    remove(name) {
      const i = activeFaults.findIndex((f) => f.definition.name === name);
      if (i < 0) return false;
      activeFaults.splice(i, 1);
      log.info({ fault: name }, 'fault removed');
      return true;
    },
    clear() {
      activeFaults.length = 0;
    },
  };
  const addInitialFaults = (): void => {
    for (const f of faults) faultApi.add(f);
  };
  addInitialFaults();

  const dial = (target: HostPort, directReads: DirectReads): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const upstream = net.connect({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true, onread: directReads.onread });
      const timer = setTimeout(() => {
        upstream.destroy();
        reject(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' }));
      }, connectTimeoutMs);
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

  /** Where a request leads: the customer view first (names and IP:port keys), then IP literals directly. */
  const route = (address: Socks5Address): { target: HostPort } | { reply: number } => {
    const viewed = dns.resolve(address.host, address.port);
    if (viewed) return { target: viewed };
    if (!isIpLiteral(address.host)) return { reply: Socks5Reply.HostUnreachable };
    const ip = ipaddr.process(address.host);
    const allowed = directIps === 'any' || (directIps === 'loopback' && ip.range() === 'loopback');
    if (!allowed) return { reply: Socks5Reply.NotAllowedByRuleset };
    return { target: { host: ip.toString(), port: address.port } };
  };

  const onConnection = (client: Socket): void => {
    const entry = connectionLog.open(formatHostPort({ host: client.remoteAddress ?? '?', port: client.remotePort ?? 0 }));
    const conn: { client: Socket; upstream?: Socket; relay?: Relay; entry: LiveEntry } = { client, entry };
    let directReads: DirectReads | undefined;
    live.add(conn);
    client.on('error', () => {});
    const rolls = new Map<string, boolean>();
    const fragmentStages = new Set<HandshakeStage>();
    let fragmentGapMs = 0;

    const effectsAt = (phase: FaultPhase, state: HandshakeState): FaultEffect[] => {
      const context: FaultContext = { phase };
      if (state.user !== undefined) context.user = state.user;
      if (state.request !== undefined) context.request = state.request;
      const out: FaultEffect[] = [];
      for (const { definition, kind } of activeFaults) {
        if (!matches(definition.match, context)) continue;
        let roll = rolls.get(definition.name);
        if (roll === undefined) {
          roll = definition.toxicity >= 1 || random() < definition.toxicity;
          rolls.set(definition.name, roll);
        }
        if (!roll) continue;
        const effect = kind.effect(definition.attributes, context);
        if (!effect) continue;
        out.push(effect);
        entry.faults ??= [];
        if (!entry.faults.includes(definition.name)) entry.faults.push(definition.name);
      }
      return out;
    };
    /** Applies delays and fragmentation; returns the first effect that decides the step, if any. */
    const prepare = async (phase: HandshakeStage, state: HandshakeState): Promise<FaultEffect | undefined> => {
      const effects = effectsAt(phase, state);
      const delay = effects.reduce((ms, e) => (e.kind === 'delay' ? ms + e.ms : ms), 0);
      if (delay > 0) await sleep(delay);
      const fragment = effects.find((e) => e.kind === 'fragment');
      if (fragment?.kind === 'fragment') {
        fragmentStages.add(phase);
        fragmentGapMs = fragment.gapMs;
      }
      return effects.find((e) => e.kind !== 'delay' && e.kind !== 'fragment');
    };

    const selectMethod = async (offered: readonly number[], state: HandshakeState): Promise<MethodDecision> => {
      const decisive = await prepare('greeting', state);
      if (decisive?.kind === 'close') return decisive;
      entry.methods = offered.map(methodName);
      let method: number = Socks5Method.NoAcceptable;
      if (decisive?.kind !== 'refuse-methods') {
        if (auth === 'none' && offered.includes(Socks5Method.NoAuth)) method = Socks5Method.NoAuth;
        else if (offered.includes(Socks5Method.UsernamePassword)) method = Socks5Method.UsernamePassword;
      }
      entry.method = methodName(method);
      return { kind: 'method', method };
    };

    const authenticate = async (username: string, password: string, state: HandshakeState) => {
      entry.user = username;
      const decisive = await prepare('auth', state);
      if (decisive?.kind === 'close') return decisive;
      const known = userTable.get(username);
      const ok = decisive?.kind !== 'reject-auth' && (auth === 'none' || (known !== undefined && sameSecret(known, password)));
      entry.auth = ok ? 'accepted' : 'rejected';
      return ok ? ({ kind: 'accept' } as const) : ({ kind: 'reject' } as const);
    };

    const request = async (req: Socks5Request, state: HandshakeState): Promise<RequestDecision> => {
      entry.atyp = req.address.atyp;
      entry.host = req.address.host;
      entry.port = req.address.port;
      const decisive = await prepare('request', state);
      if (decisive?.kind === 'close') return decisive;
      if (decisive?.kind === 'reply') return { kind: 'reply', code: decisive.code };
      if (req.command !== Socks5Command.Connect) return { kind: 'reply', code: Socks5Reply.CommandNotSupported };
      const routed = route(req.address);
      if ('reply' in routed) return { kind: 'reply', code: routed.reply };
      entry.upstream = formatHostPort(routed.target);
      try {
        directReads = new DirectReads(directReadBytes);
        const upstream = await dial(routed.target, directReads);
        conn.upstream = upstream;
        if (client.destroyed) {
          upstream.destroy();
          return { kind: 'close', how: 'fin' };
        }
        return { kind: 'reply', code: Socks5Reply.Succeeded, bound: addressFor(upstream.localAddress ?? '0.0.0.0', upstream.localPort ?? 0) };
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        entry.error = `connect ${entry.upstream}: ${e.code ?? e.message}`;
        return { kind: 'reply', code: replyForDialError(e) };
      }
    };

    const write = async (socket: Socket, bytes: Buffer, stage: HandshakeStage): Promise<void> => {
      if (!fragmentStages.has(stage)) return writeAll(socket, bytes);
      for (const byte of bytes) {
        if (socket.destroyed) return;
        await writeAll(socket, Buffer.from([byte]));
        if (fragmentGapMs > 0) await sleep(fragmentGapMs);
        else await new Promise((r) => setImmediate(r));
      }
    };

    const finish = (cause: CloseCause): void => {
      ConnectionLog.close(entry, cause);
      live.delete(conn);
      log.debug({ id: entry.id, user: entry.user, atyp: entry.atyp, host: entry.host, port: entry.port, replyCode: entry.replyCode, cause }, 'connection closed');
    };

    serveSocks5Handshake(client, { selectMethod, authenticate, request, write }, { handshakeTimeoutMs })
      .then((outcome) => {
        if (outcome.kind !== 'established') {
          conn.upstream?.destroy();
          if (outcome.kind === 'rejected') {
            if (outcome.replyCode !== undefined) entry.replyCode = outcome.replyCode;
            finish(rejectedCloseCause[outcome.stage]);
          } else {
            if (outcome.error) entry.error = outcome.error.message;
            finish(handshakeCloseCause[outcome.cause]);
          }
          return;
        }
        entry.replyCode = outcome.replyCode;
        const upstream = conn.upstream;
        if (!upstream) {
          client.destroy();
          finish('request-failed');
          return;
        }
        const shaping: RelayShaping = {};
        for (const effect of effectsAt('relay', outcome.state)) {
          if (effect.kind === 'throttle') shaping.throttle = { bytesPerSecond: effect.bytesPerSecond, direction: effect.direction };
          if (effect.kind === 'reset-after') shaping.resetAfter = { bytes: effect.bytes, direction: effect.direction };
        }
        conn.relay = startRelay(client, upstream, {
          idleTimeoutMs,
          shaping,
          rest: outcome.rest,
          counters: entry,
          ...(directReads ? { directReads } : {}),
          onEnd: (cause) => finish(cause === 'stopped' ? 'proxy-stopped' : cause),
        });
      })
      .catch((err: unknown) => {
        // serveSocks5Handshake does not throw; this guards the code above.
        client.destroy();
        conn.upstream?.destroy();
        entry.error = (err as Error)?.message;
        finish('client-error');
      });
  };

  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, onConnection);
  server.maxConnections = 65_536;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err }, 'test proxy server error'));
  const bound = server.address() as net.AddressInfo;
  const address = formatHostPort({ host: bound.address, port: bound.port });
  log.info({ address, users: [...userTable.keys()], auth }, 'test proxy listening');

  return {
    address,
    host: bound.address,
    port: bound.port,
    get users() {
      return [...userTable].map(([username, password]) => ({ username, password }));
    },
    set users(next) {
      userTable = new Map(validateUsers(next).map((u) => [u.username, u.password]));
    },
    get customerDns() {
      return dns.toJSON();
    },
    set customerDns(records) {
      dns.replace(records);
    },
    faults: faultApi,
    connections: {
      list: (filter) => connectionLog.list(filter),
      clear: () => connectionLog.clear(),
    },
    reset() {
      userTable = new Map(initialUsers.map((u) => [u.username, u.password]));
      dns.replace(customerDns);
      faultApi.clear();
      addInitialFaults();
      connectionLog.clear();
    },
    healthy: () => server.listening,
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const conn of [...live]) {
        if (conn.relay) conn.relay.stop('stopped');
        else {
          conn.client.destroy();
          conn.upstream?.destroy();
          ConnectionLog.close(conn.entry, 'proxy-stopped');
        }
      }
      live.clear();
      await closed;
    },
  };
}

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

function methodName(method: number): AuthMethod {
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
