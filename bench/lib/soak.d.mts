// Types of bench/lib/soak.mjs (plain JavaScript so the benchmark runs it without a build step), for
// test/integration/soak/soak.test.ts.

export interface SoakOptions {
  /** Whole load, warm-up included (default 60). */
  seconds?: number;
  /** Flows started per second over the 4 sandboxes (default 75). */
  rate?: number;
  /** Warm-up share of `seconds`, clamped to 5–60 s (default 0.2). */
  warmupShare?: number;
  /** Quiet and update phases alternate, each this long (default 5). */
  phaseSeconds?: number;
  /** A policy PUT this often during update phases (default 200). */
  updateEveryMs?: number;
  /** A credential rotation at the start of an update phase, at most this often (default 10). */
  rotateEverySeconds?: number;
  rotationGraceMs?: number;
  maxInFlight?: number;
  flowTimeoutMs?: number;
  datagramsPerAssociation?: number;
  drainMs?: number;
  /** The gateway's proxy handshake timeout in the soak's emulator (default 5,000; drains outwait it). */
  proxyTimeoutMs?: number;
  /** The emulator's SQLite page cache (default 2,000 KiB). */
  sqliteCacheKb?: number;
  /** Extra node flags for the emulator child (default: SEE_SOAK_NODE_FLAGS, space-separated). */
  emulatorNodeFlags?: string[];
  /** Diagnosis: a forced-GC memory sample every this many seconds under load (default 0: never). */
  memEverySeconds?: number;
  log?: (line: string) => void;
}

export interface KindStats {
  started: number;
  notStarted: number;
  /** What the sandbox saw: `ok` (HTTP 200), `empty` (closed without a byte), `sent` (a datagram), `error`. */
  observed: Record<string, number>;
  toggleChecked: number;
}

export interface DrainedState {
  settled: boolean;
  ms?: number;
  state?: { activeFlows: number; udpSessions: number; credentialCache: number; resources: Record<string, number> };
}

export interface Measurement {
  drained: DrainedState;
  fds: number;
  fdKinds: Record<string, number>;
  gc: boolean;
  rssKb: number;
  /** `rssKb` without the V8 heap pages committed but free (heapTotal − heapUsed). */
  inUseKb: number;
  rssSamplesKb: number[];
  hwmKb: number;
  rssAnonKb: number;
  heapUsedKb: number;
  heapTotalKb: number;
  externalKb: number;
  arrayBuffersKb: number;
  activeFlows: number;
  udpSessions: number;
  credentialCache: number;
  resources: Record<string, number>;
}

export interface AuditKindRow {
  sandbox: number;
  role: string;
  kind: string;
  started: number;
  observed: Record<string, number>;
  results: number;
  outcomes: Record<string, number>;
  /** Results of flows the gateway closed because a policy PUT replaced the policy that admitted them, by outcome. */
  retired: { completed?: number; error?: number };
  /** TCP flows during which a policy PUT for the sandbox was under way (the driver's view). */
  policyChangedDuring: number;
  /** Of those, flows (not toggle) that should have been answered and ended without a byte. */
  cutByPolicyChange: number;
  toggleChecked: number;
}

export interface SoakReport {
  options: { seconds: number; rate: number; warmupSeconds: number; mainSeconds: number; phaseSeconds: number; updateEveryMs: number; rotateEverySeconds: number; proxyTimeoutMs: number; sqliteCacheKb: number };
  /** What went wrong on the driver's side (flows the sandbox saw fail, API errors, an aborted run). */
  problems: string[];
  child?: {
    pid: number;
    logs: { errors: Record<string, unknown>[]; warnings: number; warningSamples: Record<string, unknown>[]; other: string[] };
    aliveAfterLoad?: boolean;
    exit?: { code: number | null; signal: string | null } | { error: string };
  };
  sandboxes?: { id: string; role: string }[];
  before?: Measurement;
  after?: Measurement;
  load?: { flowsStarted: number; lagged: number; maxInFlight: number; seconds: number };
  control?: { policyPuts: number; policyPutFailures: number; policyPutMs: number[]; rotations: number; rotationFailures: number };
  latency?: { chain: { quiet: number[]; updates: number[] }; baseline: { quiet: number[]; updates: number[] } };
  /** The emulator's event-loop delay (ms), one entry per phase of the main stage. */
  loopDelay?: { quiet: LoopDelay[]; updates: LoopDelay[] };
  rssSamples?: { stage: string; t: number; rssKb: number; fds: number; gcRssKb?: number; heapUsedKb?: number; externalKb?: number }[];
  flows?: { index: number; role: string; kinds: Record<string, KindStats> }[];
  audit?: { events: number; attempts: number; results: number; tcpFlows: number; udpFlows: number; byKind: AuditKindRow[]; problems: string[] };
  proxyConnections?: { entries: number; domainAtyp: number; otherAtyp: number; authRejected: number; users: string[]; lastUser?: string; currentUser: string };
}

export interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
  samples: number;
}

export interface PhaseLatency {
  samples: number;
  chainP50: number;
  chainP99: number;
  baselineP50: number;
  baselineP99: number;
  addedP50: number;
  addedP99: number;
}

export function soakOptionsFromEnv(env?: NodeJS.ProcessEnv): { seconds: number; rate: number };
export function runSoak(options?: SoakOptions): Promise<SoakReport>;
export function latencySummary(report: SoakReport): { quiet: PhaseLatency; updates: PhaseLatency };
/** Growth of `inUseKb` (or, with `raw`, of VmRSS) from `before` to `after`, as a fraction. */
export function rssGrowth(report: SoakReport, options?: { raw?: boolean }): number;
export function describeReport(report: SoakReport): string[];
export function percentile(xs: readonly number[], p: number): number;
/** One flow through a sandbox's SOCKS5 ingress, as the sandbox sees it (the prober times it). */
export function tcpFlow(ingress: string, via: Record<string, unknown>, options: { timeoutMs: number; hello?: unknown }): Promise<{ started: boolean; observed: string; detail?: string; [k: string]: unknown }>;
/** A direct loopback GET to the service: its time in ms. */
export function baselineFlow(port: number, timeoutMs: number): Promise<number>;
export function descriptors(pid: number, ports: { api: number; proxy?: number; service: number; ingress: Set<number>; ingressUdp?: Set<number> }): { count: number; kinds: Record<string, number> };
export const flowKinds: Record<string, { via: Record<string, unknown>; match: { transport: 'tcp' | 'udp'; ip: string; port: number }; weight: Record<string, number>; expect: Record<string, unknown> }>;
