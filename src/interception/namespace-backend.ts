import type dgram from 'node:dgram';
import type net from 'node:net';
import type { ResultPromise } from 'execa';

/**
 * How sandbox traffic is captured in transparent mode, behind one small interface so that the root
 * implementation (`ip netns` + nftables + conntrack) can be replaced by a rootless one built on
 * `unshare --user --map-root-user` without touching the gateway.
 *
 * The gateway consumes: `tcpServer` (accepts every redirected sandbox TCP connection), `udpSocket`
 * (every redirected sandbox datagram except DNS to the sandbox's own resolver), the original
 * destination of each, and `sandboxForAddress` to know which sandbox a peer address belongs to.
 */

/** What the sandbox dialled, before the redirect. */
export interface OriginalDestination {
  ip: string;
  port: number;
}

/** A remote address as seen on `udpSocket` ('message' event rinfo). */
export interface DatagramSource {
  address: string;
  port: number;
}

/** name → addresses, as in /etc/hosts (one line per address). */
export type HostsEntries = Record<string, string[]>;

export interface SandboxNetwork {
  /** The network namespace the sandbox's programs run in (`ip netns exec <namespace> ...`). */
  namespace: string;
  /** The sandbox's own address: the source address of its flows on `tcpServer` / `udpSocket`. */
  address: string;
  /** The gateway side of the sandbox link: default route and resolver (resolv.conf) of the sandbox. */
  gateway: string;
}

export interface CreateSandboxOptions {
  /** Extra hosts entries written to the sandbox's /etc/hosts (the documented way to resolve an internal name). */
  hosts?: HostsEntries;
}

export interface ExecOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Kills the command after this long (execa `timeout`). */
  timeoutMs?: number;
  /** Data for the command's stdin; stdin is closed otherwise. */
  input?: string | Buffer;
}

/** The execa subprocess of a command running inside a sandbox (stdout/stderr as strings). */
export type SandboxSubprocess = ResultPromise<{ reject: false; all: false; stripFinalNewline: false }>;

/** DNS hooks of the sandbox resolver, injected by the emulator (platform DNS view + sandbox hosts). */
export interface SandboxDnsHooks {
  /** Addresses for `name` as the sandbox sees it; undefined → NXDOMAIN. A promise when it must wait (platform DNS passthrough). */
  lookup(sandboxId: string, name: string): string[] | undefined | Promise<string[] | undefined>;
  /** Called for every positive answer (feeds the snoop cache). */
  onAnswer?(sandboxId: string, name: string, addresses: string[], ttlSeconds: number): void;
}

export interface NamespaceBackend {
  /** Which implementation this is (reported in `/_emulator/info`). */
  readonly kind: 'root-netns' | 'rootless-userns';
  /** Short random id carried by every name this instance creates. */
  readonly instanceId: string;
  /** Creates the gateway namespace, the helper, the listeners and the conntrack stream. */
  start(): Promise<void>;
  /** Accepts redirected sandbox TCP; owned by the main process. Valid after `start()`. */
  readonly tcpServer: net.Server;
  /** Receives redirected sandbox UDP (not DNS to the sandbox resolver). Valid after `start()`. */
  readonly udpSocket: dgram.Socket;
  /**
   * The original destination of an accepted socket; waits up to `timeoutMs` for the conntrack
   * event. `undefined` → the gateway reports `missing_original_dst`.
   */
  originalDestination(socket: net.Socket, timeoutMs?: number): Promise<OriginalDestination | undefined>;
  /** Same for a datagram received on `udpSocket`. */
  originalDestinationForDatagram(rinfo: DatagramSource, timeoutMs?: number): Promise<OriginalDestination | undefined>;
  createSandbox(id: string, opts?: CreateSandboxOptions): Promise<SandboxNetwork>;
  /** Idempotent: deleting an unknown sandbox does nothing. */
  deleteSandbox(id: string): Promise<void>;
  sandbox(id: string): SandboxNetwork | undefined;
  /** Which sandbox a connection or datagram came from (by its source address). */
  sandboxForAddress(ip: string): string | undefined;
  /** Runs an unmodified program inside the sandbox's namespace. */
  exec(id: string, command: readonly string[], opts?: ExecOptions): SandboxSubprocess;
  /** Replaces the sandbox's extra hosts entries (its /etc/hosts for programs started afterwards). */
  setHosts(id: string, entries: HostsEntries): Promise<void>;
  /**
   * For `/_emulator/health`: `listeners` — the redirect TCP listener listens, the UDP socket is bound
   * and the helper that owns them in the gateway namespace is alive; `resolver` — the sandbox
   * resolver's UDP and TCP sockets are bound.
   */
  healthy(): { listeners: boolean; resolver: boolean };
  /** Deletes everything this instance created. Idempotent. */
  stop(): Promise<void>;
}

export type TransparentSupport = { ok: true } | { ok: false; reason: string };
