import type dgram from 'node:dgram';
import { readFileSync, rmSync, rmdirSync, statSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { writeFileAtomicPrivateSync } from '../../store/write-file-atomic-private.js';
import type net from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { SandboxResolver } from '../../dns/resolver-server.js';
import { EmulatorError } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import type {
  CreateSandboxOptions,
  DatagramSource,
  ExecOptions,
  HostsEntries,
  NamespaceBackend,
  OriginalDestination,
  SandboxDnsHooks,
  SandboxNetwork,
  SandboxSubprocess,
} from '../namespace-backend.js';
import { ConntrackStream, ProcConntrackTable } from './conntrack-stream.js';
import type { ConntrackProtocol } from './conntrack-line.js';
import { GatewayHelper } from './helper.js';
import { ip, ipBatch, namespacePids, nftIn, runSync, type CommandPrefix } from './ip-command.js';
import { defaultStateDir, processStartTime, removeInstanceState, writeInstanceState } from './instance-state.js';
import {
  gatewayNamespace,
  gatewayVethPattern,
  maxSandboxes,
  newInstanceId,
  randomAddressBlock,
  sandboxAddressing,
  sandboxNamespace,
  vethNames,
} from './names.js';
import { gatewayRuleset, gatewayTable } from './nft-ruleset.js';
import { OriginalDestinationIndex } from './original-destination-index.js';
import { netnsEtcDir, reapDeadInstances } from './reap.js';
import { defaultSandboxUser, sandboxExecArgs, sandboxFstab, sandboxHome, type SandboxConfinement } from './sandbox-confinement.js';
import { SandboxInit, sandboxPath } from './sandbox-init.js';
import type { UserNamespaceAnchor } from './user-namespace-anchor.js';

/**
 * The root implementation of NamespaceBackend (TRANSPARENT.md): one gateway namespace per instance,
 * one namespace per sandbox joined to it by a veth pair, nftables only in the gateway namespace,
 * listeners created there by a helper and owned by this process, original destinations from the
 * namespace's conntrack event stream. Nothing is added to the host namespace.
 */
export interface RootNamespaceBackendOptions {
  dns: SandboxDnsHooks;
  logger?: Logger;
  /** Defaults to a fresh random id. */
  instanceId?: string;
  stateDir?: string;
  /** Default wait for a conntrack entry that has not arrived yet. */
  originalDestinationTimeoutMs?: number;
  /** Removes everything synchronously when the process exits, and on SIGTERM/SIGINT when nobody else handles them. */
  cleanupOnExit?: boolean;
  dnsTtlSeconds?: number;
  /** false: no conntrack event stream, the /proc table only (the fallback method; for tests). */
  conntrackEvents?: boolean;
  /** Who sandbox commands run as and what they must not see (default: uid 65534, the state dir masked). */
  confinement?: Partial<SandboxConfinement>;
  /**
   * The rootless backend (rootless-backend.ts) runs every command through this prefix (into its user
   * namespace), keeps the sandboxes' resolv.conf/hosts under its state dir instead of /etc/netns,
   * and reports itself as `rootless-userns`.
   */
  rootless?: { anchor: UserNamespaceAnchor };
}

/** Port of the sandbox resolver inside the gateway namespace. */
export const sandboxResolverPort = 53;
const conntrackReadyAttempts = 100;
const conntrackReadyProbeMs = 20;
const sweepIntervalMs = 10_000;
/** The veth pair's MTU: the largest a veth takes (ETH_MAX_MTU), near loopback's 65536. */
const vethMtu = 65_535;

interface SandboxRecord extends SandboxNetwork {
  id: string;
  index: number;
  init?: SandboxInit;
}

const defaultHosts = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n';

export function hostsFileText(entries: HostsEntries = {}): string {
  let text = defaultHosts;
  for (const [name, addresses] of Object.entries(entries)) for (const a of addresses) text += `${a}\t${name}\n`;
  return text;
}

export class RootNamespaceBackend implements NamespaceBackend {
  readonly kind: 'root-netns' | 'rootless-userns';
  /** Who sandbox commands run as and what is masked in their mount namespace. */
  readonly confinement: SandboxConfinement;
  private readonly rootless: RootNamespaceBackendOptions['rootless'];
  private readonly sandboxPath: string;
  readonly instanceId: string;
  readonly gatewayNamespace: string;
  private readonly logger: Logger;
  private readonly stateDir: string;
  private readonly dns: SandboxDnsHooks;
  private readonly defaultTimeoutMs: number;
  private readonly cleanupOnExit: boolean;
  private readonly dnsTtlSeconds: number;
  private readonly conntrackEvents: boolean;
  private readonly addressBlock = randomAddressBlock();
  private readonly index = new OriginalDestinationIndex();
  private readonly sandboxes = new Map<string, SandboxRecord>();
  private readonly byAddress = new Map<string, string>();
  private readonly freeIndexes: number[] = [];
  private readonly tcpOriginals = new WeakMap<net.Socket, OriginalDestination | undefined>();
  /** Commands started by `exec`, with the sandbox each runs in. */
  private readonly subprocesses = new Map<SandboxSubprocess, string>();
  private nextIndex = 0;
  private readonly counters = { events: 0, lookups: 0, misses: 0 };
  private helper: GatewayHelper | undefined;
  private conntrack: ConntrackStream | undefined;
  private procTable: ProcConntrackTable | undefined;
  private resolver: SandboxResolver | undefined;
  private tcp: net.Server | undefined;
  private udp: dgram.Socket | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private state: 'new' | 'starting' | 'started' | 'stopping' | 'stopped' = 'new';
  private readonly exitHandler = (): void => this.cleanupSync();
  private readonly signalHandler = (signal: NodeJS.Signals): void => {
    // Clean up synchronously, then get out of the way: when nobody else listens, re-raise so the
    // default action (exit) happens; otherwise the other listeners (signal-exit, the emulator)
    // decide, and see no listener of ours left.
    this.cleanupSync();
    this.removeProcessHandlers();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };

  constructor({ dns, logger = silentLogger(), instanceId = newInstanceId(), stateDir = defaultStateDir, originalDestinationTimeoutMs = 200, cleanupOnExit = true, dnsTtlSeconds = 30, conntrackEvents = true, confinement = {}, rootless }: RootNamespaceBackendOptions) {
    // Reaping recognises instances by this shape in namespace names (see names.ts).
    if (!/^[a-z0-9]{5}$/.test(instanceId)) throw new EmulatorError('invalid_instance_id', 'instance id must be 5 characters [a-z0-9]');
    this.instanceId = instanceId;
    this.gatewayNamespace = gatewayNamespace(instanceId);
    this.logger = logger.child({ component: 'netns', instance: instanceId });
    this.stateDir = stateDir;
    this.dns = dns;
    this.defaultTimeoutMs = originalDestinationTimeoutMs;
    this.cleanupOnExit = cleanupOnExit;
    this.dnsTtlSeconds = dnsTtlSeconds;
    this.conntrackEvents = conntrackEvents;
    this.rootless = rootless;
    this.kind = rootless ? 'rootless-userns' : 'root-netns';
    // The state dir is always masked (first: the fixture CA is copied into its tmpfs). /run/netns is
    // not: entering a namespace needs CAP_SYS_ADMIN, which only --sandbox-privileged keeps, and that
    // one could unmount a mask anyway.
    const mask = [stateDir, ...(confinement.maskPaths ?? [])];
    this.confinement = { user: confinement.user ?? defaultSandboxUser, maskPaths: [...new Set(mask)], caCertPath: confinement.caCertPath, caCertText: readCaText(confinement.caCertPath) };
    this.sandboxPath = sandboxPath(process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', this.confinement.user);
  }

  /** Empty for root; into the user namespace for rootless (see ip-command.ts). */
  private get prefix(): CommandPrefix {
    return this.rootless ? this.rootless.anchor.prefix : [];
  }

  /** Where a sandbox's resolv.conf and hosts live on the host. */
  private etcDir(namespace: string): string {
    return this.rootless ? join(this.stateDir, this.instanceId, namespace) : join(netnsEtcDir, namespace);
  }

  get tcpServer(): net.Server {
    if (!this.tcp) throw new EmulatorError('backend_not_started', 'namespace backend is not started');
    return this.tcp;
  }

  get udpSocket(): dgram.Socket {
    if (!this.udp) throw new EmulatorError('backend_not_started', 'namespace backend is not started');
    return this.udp;
  }

  healthy(): { listeners: boolean; resolver: boolean } {
    let udpBound = false;
    try {
      udpBound = this.udp !== undefined && this.udp.address().port > 0;
    } catch {
      // not bound, or closed
    }
    return {
      listeners: this.state === 'started' && this.tcp?.listening === true && udpBound && this.helper?.running === true,
      resolver: this.state === 'started' && this.resolver?.healthy() === true,
    };
  }

  /** PIDs of the processes this backend runs (helper, conntrack stream). */
  get processIds(): { helper: number | undefined; conntrack: number | undefined } {
    return { helper: this.helper?.pid, conntrack: this.conntrack?.pid };
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new EmulatorError('backend_already_started', 'namespace backend was already started');
    this.state = 'starting';
    // The state file comes first, so a concurrent instance's reaper never sees our namespaces ownerless.
    writeInstanceState(this.stateDir, { instanceId: this.instanceId, pid: process.pid, startTime: processStartTime(process.pid), createdAt: new Date().toISOString() });
    if (this.cleanupOnExit) {
      process.on('exit', this.exitHandler);
      process.on('SIGTERM', this.signalHandler);
      process.on('SIGINT', this.signalHandler);
    }
    try {
      await this.rootless?.anchor.start();
      await reapDeadInstances({ stateDir: this.stateDir, logger: this.logger, keep: this.instanceId, prefix: this.prefix });
      const gw = this.gatewayNamespace;
      await ip(['netns', 'add', gw], this.prefix);
      await ipBatch(gw, ['link set lo up'], this.prefix);
      this.helper = await GatewayHelper.start({ namespace: gw, logger: this.logger, prefix: this.prefix });
      const [tcp, udp, dnsUdp, dnsTcp] = await Promise.all([
        this.helper.listenTcp('0.0.0.0', 0),
        this.helper.listenUdp('0.0.0.0', 0),
        this.helper.listenUdp('0.0.0.0', sandboxResolverPort),
        this.helper.listenTcp('0.0.0.0', sandboxResolverPort),
      ]);
      this.tcp = tcp.server;
      // Accepted sockets stay half-open: a sandbox program's FIN is passed on while the answer comes back.
      (this.tcp as net.Server & { allowHalfOpen: boolean }).allowHalfOpen = true;
      this.udp = udp.socket;
      this.resolver = new SandboxResolver({
        lookup: (sandboxId, name) => this.dns.lookup(sandboxId, name),
        onAnswer: this.dns.onAnswer?.bind(this.dns),
        sandboxForAddress: (a) => this.sandboxForAddress(a),
        logger: this.logger,
        ttlSeconds: this.dnsTtlSeconds,
      });
      this.resolver.attachUdp(dnsUdp.socket);
      this.resolver.attachTcp(dnsTcp.server);
      await nftIn(gw, ['-f', '-'], gatewayRuleset({ table: gatewayTable, sandboxInterfaces: gatewayVethPattern(this.instanceId), tcpPort: tcp.port, udpPort: udp.port, dnsPort: sandboxResolverPort }), this.prefix);
      await this.startConntrack();
      this.sweepTimer = setInterval(() => this.index.sweep(), sweepIntervalMs);
      this.sweepTimer.unref();
      this.state = 'started';
      this.logger.info({ gatewayNamespace: gw, tcpPort: tcp.port, udpPort: udp.port, conntrack: this.conntrack?.running ? 'events' : 'proc' }, 'transparent interception ready');
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  private async startConntrack(): Promise<void> {
    const helper = this.helper!;
    this.procTable = new ProcConntrackTable(() => this.helper?.pid);
    if (!this.conntrackEvents) return;
    const stream = new ConntrackStream({
      namespace: this.gatewayNamespace,
      logger: this.logger,
      prefix: this.prefix,
      onEntry: (e) => {
        this.counters.events++;
        this.index.add(e);
      },
    });
    this.conntrack = stream;
    if (stream.pid !== undefined) helper.watch(stream.pid);
    // conntrack prints nothing when it is subscribed: probe with datagrams until one is reported.
    for (let attempt = 0; attempt < conntrackReadyAttempts && stream.running; attempt++) {
      const sourcePort = await helper.probe(9);
      if (await this.index.lookup('udp', '127.0.0.1', sourcePort, { timeoutMs: conntrackReadyProbeMs, consume: true })) return;
    }
    this.logger.warn('conntrack event stream not available; reading /proc/<helper>/net/nf_conntrack instead');
    await stream.stop();
  }

  /** How original destinations are found, and how often that failed (for /_emulator/info and benchmarks). */
  originalDestinationStats(): { method: 'conntrack-events' | 'proc-table'; events: number; lookups: number; misses: number; indexed: number } {
    return { method: this.conntrack?.running ? 'conntrack-events' : 'proc-table', ...this.counters, indexed: this.index.size };
  }

  async originalDestination(socket: net.Socket, timeoutMs = this.defaultTimeoutMs): Promise<OriginalDestination | undefined> {
    // One conntrack entry per accepted connection: consumed on first lookup, remembered per socket.
    if (this.tcpOriginals.has(socket)) return this.tcpOriginals.get(socket);
    const ip = socket.remoteAddress;
    const port = socket.remotePort;
    if (!ip || port === undefined) return undefined;
    const found = await this.lookup('tcp', stripMapped(ip), port, timeoutMs, true);
    this.tcpOriginals.set(socket, found);
    return found;
  }

  originalDestinationForDatagram(rinfo: DatagramSource, timeoutMs = this.defaultTimeoutMs): Promise<OriginalDestination | undefined> {
    return this.lookup('udp', stripMapped(rinfo.address), rinfo.port, timeoutMs, false);
  }

  private async lookup(protocol: ConntrackProtocol, ip: string, port: number, timeoutMs: number, consume: boolean): Promise<OriginalDestination | undefined> {
    this.counters.lookups++;
    const found = await this.lookupOnce(protocol, ip, port, timeoutMs, consume);
    if (!found) this.counters.misses++;
    return found;
  }

  private async lookupOnce(protocol: ConntrackProtocol, ip: string, port: number, timeoutMs: number, consume: boolean): Promise<OriginalDestination | undefined> {
    const startedAt = performance.now();
    if (this.conntrack?.running) {
      const found = await this.index.lookup(protocol, ip, port, { timeoutMs, consume });
      if (found) return found;
    } else if (timeoutMs > 0) {
      // Without the stream, the entry may not be in the table yet if the lookup races the SYN: wait once.
      await new Promise((r) => setTimeout(r, Math.min(timeoutMs, 20)));
    }
    // Backstop (and the method without the stream): the table itself, read once for all concurrent lookups.
    if (!this.procTable) return undefined;
    const entries = await this.procTable.entries(startedAt);
    const e = entries.find((x) => x.protocol === protocol && x.peer.ip === ip && x.peer.port === port);
    return e ? { ip: e.destination.ip, port: e.destination.port } : undefined;
  }

  async createSandbox(id: string, { hosts = {} }: CreateSandboxOptions = {}): Promise<SandboxNetwork> {
    if (this.state !== 'started') throw new EmulatorError('backend_not_started', 'namespace backend is not started');
    if (this.sandboxes.has(id)) throw new EmulatorError('sandbox_namespace_exists', `sandbox ${id} already has a namespace`);
    const index = this.freeIndexes.pop() ?? this.nextIndex++;
    if (index >= maxSandboxes) throw new EmulatorError('sandbox_namespace_exhausted', 'no more sandbox addresses in this instance');
    const namespace = sandboxNamespace(this.instanceId, index);
    const addressing = sandboxAddressing(this.addressBlock, index);
    const veth = vethNames(this.instanceId, index);
    const record: SandboxRecord = { id, index, namespace, address: addressing.sandbox, gateway: addressing.gateway };
    this.sandboxes.set(id, record);
    const gw = this.gatewayNamespace;
    try {
      await Promise.all([ip(['netns', 'add', namespace], this.prefix), this.writeEtc(namespace, addressing.gateway, hosts)]);
      // The sandbox's own PID and mount namespaces (sandbox-confinement.ts), started while the links are made.
      const starting = SandboxInit.start({ namespace, fstabPath: join(this.etcDir(namespace), 'fstab'), confinement: this.confinement, logger: this.logger, prefix: this.prefix }).then((init) => {
        record.init = init;
        if (this.state !== 'started' || !this.sandboxes.has(id)) init.kill();
      });
      starting.catch(() => undefined); // awaited below; a link failure first must not leave it unhandled
      // Created directly inside the two namespaces: the pair never exists in the host namespace. The
      // largest MTU makes sandbox ↔ gateway traffic move in loopback-sized segments (1500 would cost
      // ~40× the packets per byte, and the throughput with it).
      const mtu = String(vethMtu);
      await ip(['link', 'add', veth.gateway, 'mtu', mtu, 'netns', gw, 'type', 'veth', 'peer', 'name', veth.sandbox, 'mtu', mtu, 'netns', namespace], this.prefix);
      await Promise.all([
        ipBatch(gw, [`addr add ${addressing.gateway}/${addressing.prefixLength} dev ${veth.gateway}`, `link set ${veth.gateway} up`], this.prefix),
        ipBatch(
          namespace,
          [
            'link set lo up',
            `addr add ${addressing.sandbox}/${addressing.prefixLength} dev ${veth.sandbox}`,
            `link set ${veth.sandbox} up`,
            `route add default via ${addressing.gateway} dev ${veth.sandbox}`,
          ],
          this.prefix,
        ),
        starting,
      ]);
    } catch (err) {
      await this.removeSandbox(record);
      throw err;
    }
    this.byAddress.set(addressing.sandbox, id);
    this.logger.debug({ sandboxId: id, namespace, address: addressing.sandbox }, 'sandbox namespace created');
    return { namespace, address: addressing.sandbox, gateway: addressing.gateway };
  }

  async deleteSandbox(id: string): Promise<void> {
    const record = this.sandboxes.get(id);
    if (!record) return;
    await this.removeSandbox(record);
  }

  private async removeSandbox(record: SandboxRecord): Promise<void> {
    this.sandboxes.delete(record.id);
    this.byAddress.delete(record.address);
    // Its commands end killed, also one whose nsenter has not joined the namespaces yet (it would
    // otherwise fail to join once the init is gone, instead of ending like the others).
    for (const [p, sandboxId] of this.subprocesses) if (sandboxId === record.id) p.kill('SIGKILL');
    // The init's end kills its PID namespace: every process a command left running.
    record.init?.kill();
    // Commands still running inside (started by exec) would keep the namespace and its link alive.
    for (const pid of await namespacePids(record.namespace, this.prefix)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await record.init?.closed();
    // The veth pair goes first, synchronously: a namespace is torn down by the kernel asynchronously,
    // and its index (hence the veth name) is reused by the next sandbox (`ip link add`: File exists).
    try {
      await ip(['-n', this.gatewayNamespace, 'link', 'delete', vethNames(this.instanceId, record.index).gateway], this.prefix);
    } catch (err) {
      this.logger.debug({ namespace: record.namespace, err: (err as Error).message }, 'sandbox veth already gone');
    }
    try {
      await ip(['netns', 'delete', record.namespace], this.prefix);
    } catch (err) {
      this.logger.debug({ namespace: record.namespace, err: (err as Error).message }, 'sandbox namespace already gone');
    }
    await rm(this.etcDir(record.namespace), { recursive: true, force: true });
    this.freeIndexes.push(record.index);
  }

  sandbox(id: string): SandboxNetwork | undefined {
    const r = this.sandboxes.get(id);
    return r ? { namespace: r.namespace, address: r.address, gateway: r.gateway } : undefined;
  }

  sandboxForAddress(address: string): string | undefined {
    return this.byAddress.get(stripMapped(address));
  }

  exec(id: string, command: readonly string[], { env = {}, cwd, timeoutMs, input }: ExecOptions = {}): SandboxSubprocess {
    const record = this.sandboxes.get(id);
    if (!record) throw new EmulatorError('sandbox_namespace_not_found', `sandbox ${id} has no namespace`);
    if (command.length === 0) throw new EmulatorError('invalid_command', 'command is empty');
    if (!record.init?.running) throw new EmulatorError('sandbox_namespace_not_found', `sandbox ${id} has no running init`);
    const user = this.confinement.user;
    // nsenter joins the sandbox's namespaces; the rootless backend's user namespace is joined by the
    // same nsenter (--user), not through the prefix.
    const [file, ...args] = sandboxExecArgs(record.init.anchorPid, command, { user, cwd: cwd ?? '/', joinUserNamespace: this.rootless !== undefined });
    const subprocess = execa(file!, args, {
      // The emulator's own environment (proxy variables included) must not leak into the sandbox.
      env: { PATH: this.sandboxPath, HOME: sandboxHome(user), ...env },
      extendEnv: false,
      timeout: timeoutMs,
      input,
      stdin: input === undefined ? 'ignore' : 'pipe',
      reject: false,
      all: false,
      stripFinalNewline: false,
      forceKillAfterDelay: 1000,
    }) as SandboxSubprocess;
    this.subprocesses.set(subprocess, id);
    void subprocess.finally(() => this.subprocesses.delete(subprocess));
    return subprocess;
  }

  async setHosts(id: string, entries: HostsEntries): Promise<void> {
    const record = this.sandboxes.get(id);
    if (!record) throw new EmulatorError('sandbox_namespace_not_found', `sandbox ${id} has no namespace`);
    writeEtcFile(join(this.etcDir(record.namespace), 'hosts'), hostsFileText(entries));
  }

  private async writeEtc(namespace: string, gateway: string, hosts: HostsEntries): Promise<void> {
    const dir = this.etcDir(namespace);
    const write = async (): Promise<void> => {
      // Readable by every user: the sandbox init binds them over /etc.
      await mkdir(dir, { recursive: true, mode: 0o755 });
      writeEtcFile(join(dir, 'resolv.conf'), `nameserver ${gateway}\noptions timeout:2 attempts:2\n`);
      writeEtcFile(join(dir, 'hosts'), hostsFileText(hosts));
      writeEtcFile(join(dir, 'fstab'), sandboxFstab({ etcDir: dir, masks: this.maskKinds() }));
    };
    try {
      await write();
    } catch (err) {
      // Another instance may have removed an empty /etc/netns between our mkdir and write: once more.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await write();
    }
  }

  /** The masked paths that exist now, each as a directory or a file (missing ones are skipped). */
  private maskKinds(): { path: string; kind: 'dir' | 'file' }[] {
    const out: { path: string; kind: 'dir' | 'file' }[] = [];
    for (const path of this.confinement.maskPaths) {
      try {
        out.push({ path, kind: statSync(path).isDirectory() ? 'dir' : 'file' });
      } catch {
        // not there (yet): nothing to hide
      }
    }
    return out;
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    this.state = 'stopping';
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const p of this.subprocesses.keys()) p.kill('SIGKILL');
    await Promise.allSettled([...this.sandboxes.values()].map((r) => this.removeSandbox(r)));
    await this.conntrack?.stop();
    this.index.clear();
    await this.resolver?.close();
    await Promise.all([closeServer(this.tcp), closeSocket(this.udp)]);
    this.helper?.kill();
    await this.helper?.closed();
    try {
      await ip(['netns', 'delete', this.gatewayNamespace], this.prefix);
    } catch {
      // never created, or already gone
    }
    this.removeEtcNetnsIfEmpty();
    removeInstanceState(this.stateDir, this.instanceId);
    await this.rootless?.anchor.stop();
    this.removeProcessHandlers();
    this.state = 'stopped';
  }

  /** For 'exit' and signals: nothing asynchronous runs any more, so everything here is synchronous. */
  private cleanupSync(): void {
    if (this.state === 'stopped' || this.state === 'new') return;
    // In-process handles too: after a signal the process must be able to exit once its owner stops.
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    void closeServer(this.tcp);
    void closeSocket(this.udp);
    void this.resolver?.close();
    void this.conntrack?.stop();
    for (const p of this.subprocesses.keys()) p.kill('SIGKILL');
    for (const pid of [this.conntrack?.pid, this.helper?.pid]) {
      if (pid === undefined) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const r of this.sandboxes.values()) {
      r.init?.kill();
      runSync('ip', ['netns', 'delete', r.namespace], this.prefix);
      rmSync(this.etcDir(r.namespace), { recursive: true, force: true });
    }
    this.sandboxes.clear();
    runSync('ip', ['netns', 'delete', this.gatewayNamespace], this.prefix);
    this.removeEtcNetnsIfEmpty();
    removeInstanceState(this.stateDir, this.instanceId);
    this.rootless?.anchor.kill();
    this.state = 'stopped';
  }

  /** /etc/netns goes when empty (our sandboxes were its only users unless someone else had files there). */
  private removeEtcNetnsIfEmpty(): void {
    if (this.rootless) {
      rmSync(join(this.stateDir, this.instanceId), { recursive: true, force: true });
      return;
    }
    try {
      rmdirSync(netnsEtcDir);
    } catch {
      // not empty (another instance, or files not ours) or gone
    }
  }

  private removeProcessHandlers(): void {
    process.off('exit', this.exitHandler);
    process.off('SIGTERM', this.signalHandler);
    process.off('SIGINT', this.signalHandler);
  }
}

/** Creates the root backend; `start()` it before use. */
export function createRootNamespaceBackend(options: RootNamespaceBackendOptions): RootNamespaceBackend {
  return new RootNamespaceBackend(options);
}

/** The CA's PEM text, or undefined when there is none or it cannot be read (the sandbox then has no copy). */
function readCaText(path: string | undefined): string | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

const stripMapped = (a: string): string => (a.startsWith('::ffff:') ? a.slice(7) : a);

/** Stops accepting; connections already accepted belong to their consumer, so this does not wait for them. */
function closeServer(server: net.Server | undefined): Promise<void> {
  if (server?.listening) server.close();
  return Promise.resolve();
}

function closeSocket(socket: dgram.Socket | undefined): Promise<void> {
  if (!socket) return Promise.resolve();
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve();
    }
  });
}

/** A sandbox's /etc/netns file: readable by its processes, written without following a planted name. */
/** The sandbox's /etc files: readable by its user; rewritten in place, since its init bind-mounts them over /etc. */
function writeEtcFile(path: string, text: string): void {
  writeFileAtomicPrivateSync(path, text, { mode: 0o644, inPlace: true });
}
