import net from 'node:net';
import { silentLogger, type Logger } from '../log.js';
import { listen } from '../net/listen.js';
import { ActiveFaults, type TestProxyFaults } from './active-faults.js';
import { ConnectionLog, type ConnectionLogEntry, type ConnectionLogFilter } from './connection-log.js';
import { CustomerDnsView, formatHostPort, type CustomerDnsRecords } from './customer-dns.js';
import { ProxyConnection, type ProxyContext } from './proxy-connection.js';
import type { DirectIpPolicy } from './upstream-route.js';
import { UserTable, defaultTestProxyUsers, type TestProxyUser } from './users.js';

/**
 * The embedded "customer" SOCKS5 proxy: RFC 1928/1929 with real users, a customer-side DNS view, a
 * CONNECT relay, a connection log and Toxiproxy-shaped faults.
 *
 * Where things are: one client connection (handshake callbacks, dial, relay start) is
 * `proxy-connection.ts`; the faults it applies `connection-faults.ts` (the kinds themselves and how to
 * add one: `faults/registry.ts`); the destination `upstream-route.ts` (customer DNS view, direct IPs)
 * and `upstream-dial.ts`; the byte relay `relay.ts`; users `users.ts`; the log `connection-log.ts`.
 */

export type { TestProxyFaults, TestProxyUser, DirectIpPolicy };
export { defaultTestProxyUsers, testProxyUsersSchema, validateUsers } from './users.js';

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
  // Built in this order so a bad option is reported as before: users, then the DNS view, then faults.
  const userTable = new UserTable(users);
  const dns = new CustomerDnsView(customerDns);
  const connectionLog = new ConnectionLog(logCapacity);
  const activeFaults = new ActiveFaults(log, faults);
  const live = new Set<ProxyConnection>();
  const context: ProxyContext = {
    auth,
    users: userTable,
    faults: activeFaults.active,
    random,
    dns,
    directIps,
    handshakeTimeoutMs,
    connectTimeoutMs,
    idleTimeoutMs,
    connectionLog,
    live,
    log,
  };
  const server = await startServer(host, port, (client) => new ProxyConnection(client, context).start());
  server.on('error', (err) => log.error({ err }, 'test proxy server error'));
  const handle = testProxyHandle(server, { ...context, activeFaults, initialDns: customerDns });
  log.info({ address: handle.address, users: userTable.usernames(), auth }, 'test proxy listening');
  return handle;
}

/** The `TestProxy` over a listening server and the state its connections share. */
function testProxyHandle(
  server: net.Server,
  { users, dns, initialDns, activeFaults, connectionLog, live }: ProxyContext & { activeFaults: ActiveFaults; initialDns: CustomerDnsRecords },
): TestProxy {
  const bound = server.address() as net.AddressInfo;
  return {
    address: formatHostPort({ host: bound.address, port: bound.port }),
    host: bound.address,
    port: bound.port,
    get users() {
      return users.list();
    },
    set users(next) {
      users.replace(next);
    },
    get customerDns() {
      return dns.toJSON();
    },
    set customerDns(records) {
      dns.replace(records);
    },
    // A view: the list itself stays internal.
    faults: { add: activeFaults.add, list: activeFaults.list, remove: activeFaults.remove, clear: activeFaults.clear },
    connections: {
      list: (filter) => connectionLog.list(filter),
      clear: () => connectionLog.clear(),
    },
    reset() {
      users.reset();
      dns.replace(initialDns);
      activeFaults.reset();
      connectionLog.clear();
    },
    healthy: () => server.listening,
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const conn of [...live]) conn.stop();
      live.clear();
      await closed;
    },
  };
}

async function startServer(host: string, port: number, onConnection: (client: net.Socket) => void): Promise<net.Server> {
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, onConnection);
  server.maxConnections = 65_536;
  await listen(server, { host, port });
  return server;
}
