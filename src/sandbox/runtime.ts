import { invalidHostsEntry } from '../dns/dns-name.js';
import net from 'node:net';
import { normalizeName, type NameLookup, type PlatformDnsView } from '../dns/views.js';
import { EmulatorError } from '../errors.js';
import type { AuditLog } from '../gateway/audit.js';
import type { Gateway } from '../gateway/gateway.js';
import type { TcpFlowOutcome } from '../gateway/flow.js';
import type { UdpRejectReason } from '../gateway/decide.js';
import { isUdpRejection } from '../gateway/udp.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/db.js';
import { startExplicitIngress, type ExplicitIngress } from '../interception/explicit.js';
import { startUdpAssociation } from '../interception/udp-associate.js';
import type { ExecOptions, NamespaceBackend, SandboxNetwork, SandboxSubprocess } from '../interception/namespace-backend.js';

/** What `GET /_emulator/sandboxes/{id}` reports. */
export interface SandboxView {
  interception: 'transparent' | 'explicit';
  ingress?: { socks5: string; httpConnect: string };
  namespace?: string;
  address?: string;
  hosts: Record<string, string[]>;
}

export interface ConnectTarget {
  host?: string;
  ip?: string;
  port: number;
}

/** One UDP datagram sent from a sandbox's position (`emulator.sandbox(id).sendDatagram(...)`). */
export interface DatagramTarget {
  /** Resolved as the sandbox would: its hosts entries, then the platform DNS view. Ignored when `ip` is given. */
  host?: string;
  ip?: string;
  port: number;
  /** The datagram's payload (classified as the gateway classifies any datagram: QUIC Initial SNI, DNS query). */
  data: Buffer | Uint8Array;
  /** How long to wait for the first reply once the datagram was sent (default 1000 ms; 0: do not wait). */
  timeoutMs?: number;
}

/**
 * What became of a datagram sent with `sendDatagram`; every outcome but a suppressed `unresolvable`
 * carries the `flowId` of its audit events (`emulator.flows()`).
 * - `sent`: allowed and sent directly (no proxy, or `--udp-egress direct`); `reply` is the first
 *   datagram back within `timeoutMs`, if any. The `attempt` event is written now; the session's
 *   `result` when it has been idle for 30 s, or when the sandbox is detached or the emulator stops.
 * - `rejected`: allowed by the policy, but a proxy is configured and UDP is never proxied
 *   (`udp_not_proxied`, or `quic_not_proxied` for a QUIC Initial with SNI).
 * - `denied`: the policy (or the host-local guard) denied it; `reason` as in the audit (`l4_denied`, ...).
 * - `dropped`: allowed, but it could not be sent: `upstream_no_route` (direct egress has no route to
 *   the destination) or `internal_error`.
 * - `unresolvable`: the sandbox cannot resolve `host`, so nothing was sent (the documented pitfall).
 *   Audited once per name and port per 10 s window, like a program's retries: `flowId` is absent
 *   when this datagram's record was folded into an earlier one.
 */
export type DatagramResult =
  | { outcome: 'sent'; flowId: string; reply?: Buffer }
  | { outcome: 'rejected'; reason: UdpRejectReason; flowId: string }
  | { outcome: 'denied'; reason: string; flowId: string }
  | { outcome: 'dropped'; reason: string; flowId: string }
  | { outcome: 'unresolvable'; reason: typeof sandboxResolutionFailed; host: string; flowId?: string };

/** How long `sendDatagram` waits for a reply unless told. */
export const defaultDatagramReplyTimeoutMs = 1_000;

export interface SandboxRuntime {
  /** Brings up the sandbox's interception (idempotent). */
  attach(sandboxId: string): Promise<void>;
  detach(sandboxId: string): Promise<void>;
  view(sandboxId: string): SandboxView | undefined;
  /**
   * Sandbox-side resolution without waiting: hosts entries first, then the platform DNS view's records
   * (and, with passthrough, cached host-resolver answers); IP literals as is.
   */
  resolve(sandboxId: string, host: string): string | undefined;
  /** Every address the sandbox's resolver answers for a name without waiting (undefined: NXDOMAIN). */
  resolveAll(sandboxId: string, host: string): string[] | undefined;
  /**
   * Sandbox-side resolution as a program's lookup gets it: hosts entries, then the platform DNS view,
   * then (with passthrough) the host's resolver; `reason` says why a name does not resolve.
   */
  lookup(sandboxId: string, host: string): Promise<SandboxLookup>;
  /** What the transparent sandbox resolver answers for a name: at once when known, else once the host's resolver answered. */
  resolverAnswer(sandboxId: string, name: string): string[] | undefined | Promise<string[] | undefined>;
  setHosts(sandboxId: string, hosts: Record<string, string[]>): void;
  /** In-process interception: a socket whose bytes go through the gateway as this sandbox's flow. */
  connect(sandboxId: string, target: ConnectTarget): Promise<net.Socket>;
  /**
   * Runs an unmodified program "inside" the sandbox: in its namespace (transparent) or on the host with
   * proxy variables (explicit). Wrapped in an object because the subprocess itself is a thenable.
   */
  exec(sandboxId: string, command: string[], options?: ExecOptions): Promise<{ subprocess: SandboxSubprocess }>;
  readonly mode: 'transparent' | 'explicit';
  /**
   * In-process interception for UDP: one datagram through the gateway's UDP path as this sandbox's,
   * from a fresh source (each call is its own 4-tuple session). Rejects only for a missing sandbox or
   * a malformed target; every gateway outcome is a result.
   */
  sendDatagram(sandboxId: string, datagram: DatagramTarget): Promise<DatagramResult>;
  /**
   * For `/_emulator/health`: `gateway` — every attached sandbox's explicit ingress ports, the in-process
   * rendezvous port once opened, and (transparent) the redirect listeners and their helper are up;
   * `dns` — the transparent sandbox resolver's sockets are bound (explicit mode: always true, as the
   * ingress asks the in-process platform view, which has no sockets to lose).
   */
  healthy(): { gateway: boolean; dns: boolean };
  /** Like connect, with the gateway's outcome of the flow once it ends. */
  connectFlow(sandboxId: string, target: ConnectTarget): Promise<{ socket: net.Socket; flow: Promise<TcpFlowOutcome | undefined> }>;
  stop(): Promise<void>;
}

/** A name resolved from a sandbox's position: the address a program would dial (IPv4 first), or why there is none. */
export type SandboxLookup = { ok: true; address: string; addresses: string[] } | { ok: false; reason: string; askedHost?: true };

/** Reason the emulator records when a flow never starts because the sandbox cannot resolve its host. */
export const sandboxResolutionFailed = 'sandbox_resolution_failed';

export interface SandboxRuntimeDeps {
  store: Store;
  gateway: Gateway;
  audit: AuditLog;
  logger: Logger;
  platformDns: () => PlatformDnsView;
  /** Transparent interception (started by the caller); absent: explicit mode. */
  backend?: NamespaceBackend;
  /** The CA sandbox programs are told to trust (the customer fixtures' CA). */
  caCertPath?: string;
  now?: () => Date;
}

const portOf = (endpoint: string): number => Number(endpoint.slice(endpoint.lastIndexOf(':') + 1));
const ingressPorts = (ingress: ExplicitIngress): number[] => [portOf(ingress.socks5), portOf(ingress.httpConnect)];

/** Variables that make common TLS clients trust the fixture CA (curl, OpenSSL, Node, Python requests). */
function caEnv(caCertPath: string | undefined): Record<string, string> {
  return caCertPath ? { SSL_CERT_FILE: caCertPath, CURL_CA_BUNDLE: caCertPath, NODE_EXTRA_CA_CERTS: caCertPath, REQUESTS_CA_BUNDLE: caCertPath } : {};
}

/** One audit event per unresolvable datagram destination (sandbox, name, port) in this window. */
const unresolvableDatagramWindowMs = 10_000;
const unresolvableDatagramKeys = 4_096;

export function createSandboxRuntime(deps: SandboxRuntimeDeps): SandboxRuntime {
  const { store, gateway, audit, logger, backend, now = () => new Date() } = deps;
  const ingresses = new Map<string, Promise<ExplicitIngress>>();
  const ready = new Map<string, ExplicitIngress>();
  const networks = new Map<string, SandboxNetwork>();
  const attaching = new Map<string, Promise<void>>();

  /** Every address the sandbox's resolver answers for a name: its hosts entries, else the platform view. */
  // Hosts entries by normalized name, per sandbox: read from the store once, not on every flow.
  const hostsCache = new Map<string, Map<string, string[]>>();
  const hostsOf = (sandboxId: string): Map<string, string[]> => {
    let entries = hostsCache.get(sandboxId);
    if (!entries) {
      entries = new Map(Object.entries(store.sandboxes.get(sandboxId)?.hosts ?? {}).map(([k, v]) => [normalizeName(k), v] as const));
      hostsCache.set(sandboxId, entries);
    }
    return entries;
  };
  const resolveAll = (sandboxId: string, host: string): string[] | undefined => {
    if (net.isIP(host)) return [host];
    const name = normalizeName(host);
    return hostsOf(sandboxId).get(name) ?? deps.platformDns().resolve(name);
  };
  const resolve = (sandboxId: string, host: string): string | undefined => {
    const addresses = resolveAll(sandboxId, host);
    return addresses?.find((a) => net.isIP(a) === 4) ?? addresses?.[0];
  };
  /** The sandbox's answer when known without waiting for the host's resolver (passthrough), else undefined. */
  const lookupKnown = (sandboxId: string, host: string): NameLookup | undefined => {
    if (net.isIP(host)) return { ok: true, addresses: [host] };
    const name = normalizeName(host);
    const entry = hostsOf(sandboxId).get(name);
    return entry ? { ok: true, addresses: entry } : deps.platformDns().lookupKnown(name);
  };
  const picked = (found: NameLookup): SandboxLookup => {
    if (!found.ok) return found;
    const address = found.addresses.find((a) => net.isIP(a) === 4) ?? found.addresses[0];
    return address ? { ok: true, address, addresses: found.addresses } : { ok: false, reason: 'no addresses' };
  };
  /** Synchronous when the answer is known (always, without passthrough), so those paths keep their timing. */
  const lookupEither = (sandboxId: string, host: string): SandboxLookup | Promise<SandboxLookup> => {
    const known = lookupKnown(sandboxId, host);
    return known ? picked(known) : deps.platformDns().lookup(normalizeName(host)).then(picked);
  };
  const lookup = async (sandboxId: string, host: string): Promise<SandboxLookup> => lookupEither(sandboxId, host);
  /** For resolve callbacks that take an address or undefined (the explicit ingress, UDP ASSOCIATE). */
  const addressEither = (sandboxId: string, host: string): string | undefined | Promise<string | undefined> => {
    const found = lookupEither(sandboxId, host);
    return found instanceof Promise ? found.then((f) => (f.ok ? f.address : undefined)) : found.ok ? found.address : undefined;
  };
  const resolverAnswer = (sandboxId: string, name: string): string[] | undefined | Promise<string[] | undefined> => {
    const known = lookupKnown(sandboxId, name);
    if (known) return known.ok ? known.addresses : undefined;
    return deps.platformDns().lookup(normalizeName(name)).then((f) => (f.ok ? f.addresses : undefined));
  };

  // Transparent mode: every redirected connection and datagram of every sandbox arrives here.
  if (backend) {
    backend.tcpServer.on('connection', (socket) => {
      socket.on('error', () => {});
      const sourceIp = socket.remoteAddress?.replace(/^::ffff:/, '') ?? '';
      const sandboxId = backend.sandboxForAddress(sourceIp);
      if (!sandboxId) return void socket.destroy();
      void backend
        .originalDestination(socket)
        .catch(() => undefined)
        .then((originalDst) => gateway.handleTcp({ sandboxId, sourceIp, originalDst, socket }));
    });
    backend.udpSocket.on('message', (payload, rinfo) => {
      const sourceIp = rinfo.address.replace(/^::ffff:/, '');
      const sandboxId = backend.sandboxForAddress(sourceIp);
      if (!sandboxId) return;
      void backend
        .originalDestinationForDatagram(rinfo)
        .catch(() => undefined)
        .then((originalDst) =>
        gateway.udp.handle({
          sandboxId,
          sourceIp,
          source: `${sourceIp}:${rinfo.port}`,
          originalDst,
          payload,
          reply: (data) => backend.udpSocket.send(data, rinfo.port, rinfo.address),
        }),
      );
    });
  }

  /** With passthrough, why the host's resolver did not help (its cached failure), for notes. */
  const passthroughFailure = (sandboxId: string, host: string): string => {
    const known = lookupKnown(sandboxId, host);
    return known && !known.ok && known.askedHost ? `: ${known.reason}` : '';
  };

  // A program retrying datagrams to a name the sandbox cannot resolve is audited once per name and
  // port per window, not once per datagram (the table is bounded).
  const unresolvableDatagrams = new Map<string, number>();
  /** Audits a flow that never started; returns its flow id, or undefined when folded into an earlier record. */
  const unresolvable = (sandboxId: string, host: string, port: number, via: string): string | undefined => {
    const transport = via === 'udp' ? 'udp' : 'tcp';
    if (transport === 'udp') {
      const key = `${sandboxId} ${host} ${port}`;
      const now = Date.now();
      const last = unresolvableDatagrams.get(key);
      if (last !== undefined && now - last < unresolvableDatagramWindowMs) return undefined;
      if (unresolvableDatagrams.size >= unresolvableDatagramKeys) unresolvableDatagrams.clear();
      unresolvableDatagrams.set(key, now);
    }
    const flowId = gateway.nextFlowId(transport);
    audit.record(sandboxId, 'result', {
      flow_id: flowId,
      dest_ip: '',
      dest_port: port,
      transport,
      host,
      classifier_result: 'unknown',
      action: 'deny',
      reason: sandboxResolutionFailed,
      outcome: 'error',
      emulator_note: `the sandbox cannot resolve ${host}${passthroughFailure(sandboxId, host)}, so the connection never started (the documented pitfall: the proxy resolves names only after a flow exists; add a sandbox hosts entry). The real platform records nothing here.`,
    });
    return flowId;
  };

  // In-process connections meet their accepted end here, matched by the client's source port.
  const waiting = new Map<number, (s: net.Socket) => void>();
  const arrived = new Map<number, net.Socket>();
  let rendezvous: net.Server | undefined;
  let rendezvousListening: Promise<void> | undefined;
  let rendezvousOpened = false;
  const rendezvousPort = async (): Promise<number> => {
    if (!rendezvous) {
      const server = net.createServer({ allowHalfOpen: true }, (s) => {
        s.on('error', () => {});
        const port = s.remotePort ?? 0;
        const take = waiting.get(port);
        if (take) {
          waiting.delete(port);
          take(s);
        } else arrived.set(port, s);
      });
      rendezvous = server;
      rendezvousListening = new Promise<void>((res, rej) => {
        server.once('error', rej);
        server.listen({ host: '127.0.0.1', port: 0 }, () => {
          rendezvousOpened = true;
          res();
        });
      });
      await rendezvousListening;
      gateway.host.emulatorPorts.add((server.address() as net.AddressInfo).port);
    }
    // Concurrent first connections wait for the same listen: until then address() is null.
    await rendezvousListening;
    return (rendezvous.address() as net.AddressInfo).port;
  };

  const connectFlow: SandboxRuntime['connectFlow'] = async (sandboxId, target) => {
    if (!store.sandboxes.get(sandboxId)) throw new EmulatorError('sandbox_not_found', `sandbox ${sandboxId} not found`);
    const found = target.ip === undefined && target.host ? await lookupEither(sandboxId, target.host) : undefined;
    const ip = target.ip ?? (found?.ok ? found.address : undefined);
    if (!ip) {
      if (target.host) unresolvable(sandboxId, target.host, target.port, 'in-process');
      throw new EmulatorError(
        sandboxResolutionFailed,
        target.host ? `getaddrinfo ENOTFOUND ${target.host} (inside sandbox ${sandboxId}${found && !found.ok && found.askedHost ? `: ${found.reason}` : ''})` : 'connect needs a host or an ip',
      );
    }
    const port = await rendezvousPort();
    const client = net.connect({ host: '127.0.0.1', port });
    client.on('error', () => {});
    await new Promise<void>((res, rej) => {
      client.once('connect', () => res());
      client.once('error', rej);
    });
    const accepted = await new Promise<net.Socket>((res) => {
      const local = client.localPort ?? 0;
      const already = arrived.get(local);
      if (already) {
        arrived.delete(local);
        res(already);
      } else waiting.set(local, res);
    });
    const flow = gateway.handleTcp({ sandboxId, originalDst: { ip, port: target.port }, socket: accepted });
    return { socket: client, flow };
  };

  // In-process datagrams: each call is a datagram from a socket of its own, so its session (and its
  // reply) is never shared with another call's.
  let datagramSources = 0;
  const sendDatagram: SandboxRuntime['sendDatagram'] = async (sandboxId, target) => {
    if (!store.sandboxes.get(sandboxId)) throw new EmulatorError('sandbox_not_found', `sandbox ${sandboxId} not found`);
    const { host, port, data, timeoutMs = defaultDatagramReplyTimeoutMs } = target;
    if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new EmulatorError('invalid_datagram', `sendDatagram: port must be an integer from 1 to 65535, got ${port}`);
    if (!(data instanceof Uint8Array)) throw new EmulatorError('invalid_datagram', 'sendDatagram: data must be a Buffer or Uint8Array');
    if (!(timeoutMs >= 0)) throw new EmulatorError('invalid_datagram', `sendDatagram: timeoutMs must be a non-negative number, got ${timeoutMs}`);
    if (target.ip !== undefined && !net.isIP(target.ip)) throw new EmulatorError('invalid_datagram', `sendDatagram: ip must be an IP address, got ${target.ip}`);
    const found = target.ip === undefined && host ? await lookupEither(sandboxId, host) : undefined;
    const ip = target.ip ?? (found?.ok ? found.address : undefined);
    if (!ip) {
      if (!host) throw new EmulatorError('invalid_datagram', 'sendDatagram needs a host or an ip');
      const flowId = unresolvable(sandboxId, host, port, 'udp');
      return { outcome: 'unresolvable', reason: sandboxResolutionFailed, host, ...(flowId ? { flowId } : {}) };
    }
    let replied: (reply: Buffer) => void = () => {};
    const firstReply = new Promise<Buffer>((res) => (replied = res));
    const out = gateway.udp.handle({
      sandboxId,
      source: `in-process:${++datagramSources}`,
      originalDst: { ip, port },
      // A copy: the caller may reuse its buffer while the datagram is still queued.
      payload: Buffer.from(data),
      reply: (reply) => replied(reply),
    });
    if (out.outcome === 'denied') return isUdpRejection(out.reason) ? { outcome: 'rejected', reason: out.reason, flowId: out.flowId } : { outcome: 'denied', reason: out.reason, flowId: out.flowId };
    if (out.outcome === 'dropped') return { outcome: 'dropped', reason: out.reason, flowId: out.flowId };
    let timer: NodeJS.Timeout | undefined;
    const reply = await Promise.race([firstReply, new Promise<undefined>((res) => (timer = setTimeout(() => res(undefined), timeoutMs)))]);
    clearTimeout(timer);
    return { outcome: 'sent', flowId: out.flowId, ...(reply ? { reply } : {}) };
  };

  const startIngress = (sandboxId: string) =>
    startExplicitIngress({
      sandboxId,
      logger,
      resolve: (host) => addressEither(sandboxId, host),
      onTcpFlow: (input) => void gateway.handleTcp(input),
      onUnresolvable: (host, port, via) => unresolvable(sandboxId, host, port, via),
      onUdpAssociate: (control) =>
        startUdpAssociation({
          sandboxId,
          control,
          resolve: (host) => addressEither(sandboxId, host),
          onDatagram: (input) => void gateway.udp.handle(input),
          onUnresolvable: (host, port) => unresolvable(sandboxId, host, port, 'udp'),
        }),
    });

  const attach = (sandboxId: string): Promise<void> => {
    const pending = attaching.get(sandboxId);
    if (pending) return pending;
    const work = (async () => {
      const starting = startIngress(sandboxId);
      ingresses.set(sandboxId, starting);
      const [ingress, network] = await Promise.all([starting, backend ? backend.createSandbox(sandboxId, { hosts: store.sandboxes.get(sandboxId)?.hosts ?? {} }) : undefined]);
      ready.set(sandboxId, ingress);
      // The ingress ports and the gateway side of the sandbox link are the emulator itself: no
      // sandbox reaches them through the gateway unless its policy names them (policy/host-local.ts).
      for (const port of ingressPorts(ingress)) gateway.host.emulatorPorts.add(port);
      if (network) {
        networks.set(sandboxId, network);
        gateway.sandboxIps.add(network.address);
        gateway.host.addAddress(network.gateway);
      }
    })();
    attaching.set(sandboxId, work);
    work.catch(() => attaching.delete(sandboxId));
    return work;
  };

  const detach = async (sandboxId: string) => {
    hostsCache.delete(sandboxId);
    await attaching.get(sandboxId)?.catch(() => undefined);
    attaching.delete(sandboxId);
    const ingress = ingresses.get(sandboxId);
    ingresses.delete(sandboxId);
    ready.delete(sandboxId);
    gateway.udp.close(sandboxId);
    const network = networks.get(sandboxId);
    networks.delete(sandboxId);
    if (network) {
      gateway.sandboxIps.delete(network.address);
      gateway.host.deleteAddress(network.gateway);
    }
    const stopped = ingress ? await ingress.catch(() => undefined) : undefined;
    await Promise.all([stopped?.stop(), network && backend ? backend.deleteSandbox(sandboxId) : undefined]);
    if (stopped) for (const port of ingressPorts(stopped)) gateway.host.emulatorPorts.delete(port);
  };

  return {
    mode: backend ? 'transparent' : 'explicit',
    attach,
    detach,
    view(sandboxId) {
      const record = store.sandboxes.get(sandboxId);
      if (!record) return undefined;
      const ingress = ready.get(sandboxId);
      const network = networks.get(sandboxId);
      return {
        interception: backend ? 'transparent' : 'explicit',
        ...(ingress ? { ingress: { socks5: ingress.socks5, httpConnect: ingress.httpConnect } } : {}),
        ...(network ? { namespace: network.namespace, address: network.address } : {}),
        hosts: record.hosts,
      };
    },
    resolve,
    resolveAll,
    lookup,
    resolverAnswer,
    healthy() {
      const transparent = backend?.healthy();
      const ingressesUp = [...ready.values()].every((i) => i.healthy());
      const rendezvousUp = !rendezvousOpened || rendezvous?.listening === true;
      return { gateway: ingressesUp && rendezvousUp && (transparent?.listeners ?? true), dns: transparent?.resolver ?? true };
    },
    setHosts(sandboxId, hosts) {
      // The admin route validates too; this also guards the library's `sandbox(id).setHosts`.
      const invalid = invalidHostsEntry(hosts);
      if (invalid) throw new EmulatorError('invalid_hosts', invalid);
      store.sandboxes.setHosts(sandboxId, hosts, now().toISOString());
      hostsCache.delete(sandboxId);
      if (backend && networks.has(sandboxId)) void backend.setHosts(sandboxId, hosts);
    },
    async exec(sandboxId, command, options = {}) {
      const env = { ...caEnv(deps.caCertPath), ...options.env };
      if (backend && networks.has(sandboxId)) return { subprocess: backend.exec(sandboxId, command, { ...options, env }) };
      // Explicit mode: the program runs on the host and only reaches the gateway if it honours these.
      const ingress = ready.get(sandboxId);
      const proxyEnv: Record<string, string> = ingress
        ? {
            HTTPS_PROXY: `http://${ingress.httpConnect}`,
            https_proxy: `http://${ingress.httpConnect}`,
            HTTP_PROXY: `http://${ingress.httpConnect}`,
            http_proxy: `http://${ingress.httpConnect}`,
            ALL_PROXY: `socks5h://${ingress.socks5}`,
            all_proxy: `socks5h://${ingress.socks5}`,
            NO_PROXY: '',
            no_proxy: '',
          }
        : {};
      const [file, ...args] = command;
      // execa is loaded on first use: it is one of the heaviest imports and `start` must be quick.
      const { execa } = await import('execa');
      const subprocess = execa(file!, args, {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/', ...proxyEnv, ...env },
        extendEnv: false,
        cwd: options.cwd,
        timeout: options.timeoutMs,
        input: options.input,
        reject: false,
        all: false,
        stripFinalNewline: false,
      }) as unknown as SandboxSubprocess;
      return { subprocess };
    },
    connect: async (sandboxId, target) => (await connectFlow(sandboxId, target)).socket,
    connectFlow,
    sendDatagram,
    async stop() {
      await Promise.all([...new Set([...ingresses.keys(), ...networks.keys()])].map((id) => detach(id).catch(() => undefined)));
      for (const s of arrived.values()) s.destroy();
      arrived.clear();
      if (rendezvous) await new Promise((r) => rendezvous!.close(r));
    },
  };
}
