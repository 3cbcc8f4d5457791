import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { TransparentSupport } from '../namespace-backend.js';
import { newInstanceId, namePrefix } from './names.js';

/**
 * Which transparent backends can run here, and precisely why not (`detect`, and what
 * `--interception auto` reports when it falls back). Each check that fails names the one command
 * that fixes it.
 *
 * - root: root or CAP_NET_ADMIN, `ip`, `nft`, `conntrack`, util-linux's `unshare`/`nsenter`/`setpriv`,
 *   and a network namespace actually creatable (a probe namespace is added and deleted).
 * - rootless: the same tools, unprivileged user namespaces allowed (kernel settings, AppArmor,
 *   a container's seccomp profile), and inside one: a tmpfs mount, an nftables table and a veth pair.
 */

const capNetAdmin = 12n;
const probeTimeoutMs = 5000;

export type BackendCheck = { ok: true; detail: string } | { ok: false; reason: string; fix: string };

export interface InterceptionDetection {
  platform: string;
  uid: number | undefined;
  root: BackendCheck;
  rootless: BackendCheck;
  /** Always available: loopback ingress ports. */
  explicit: { ok: true; detail: string };
  /** What `--interception auto` picks. */
  auto: 'transparent (root)' | 'transparent (rootless)' | 'explicit';
}

/** From the effective capability set, not the uid: root in a container may lack CAP_NET_ADMIN. */
function hasNetAdmin(): boolean {
  const hex = statusField('CapEff');
  return hex !== undefined && ((BigInt(`0x${hex}`) >> capNetAdmin) & 1n) === 1n;
}

function statusField(name: string): string | undefined {
  try {
    return new RegExp(`^${name}:\\s*(\\S+)$`, 'm').exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

function sysctl(path: string): string | undefined {
  try {
    return readFileSync(`/proc/sys/${path}`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Resolves with the error text, or undefined when the command succeeded. */
function runs(file: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: probeTimeoutMs, env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' } }, (err, _stdout, stderr) => {
      resolve(err ? (String(stderr).trim() || err.message) : undefined);
    });
  });
}

const tools = [
  ['ip', ['-V'], 'iproute2'],
  ['nft', ['--version'], 'nftables'],
  ['conntrack', ['--version'], 'conntrack'],
  ['unshare', ['--version'], 'util-linux'],
  ['nsenter', ['--version'], 'util-linux'],
  ['setpriv', ['--version'], 'util-linux'],
] as const;

async function missingTool(): Promise<{ reason: string; fix: string } | undefined> {
  for (const [tool, args, pkg] of tools) {
    const err = await runs(tool, [...args]);
    if (err !== undefined) return { reason: `\`${tool}\` is not usable (${err.split('\n')[0]})`, fix: `sudo apt-get install -y ${pkg}   # Debian/Ubuntu package; other distributions name it alike` };
  }
  return undefined;
}

/** Can this process run the root namespace backend? */
export async function detectRootBackend(): Promise<BackendCheck> {
  if (process.platform !== 'linux') return { ok: false, reason: `transparent interception needs Linux (this is ${process.platform})`, fix: 'run the emulator in a Linux VM or container (docker compose up: see README)' };
  if (!hasNetAdmin()) return { ok: false, reason: 'transparent interception with the root backend needs root or CAP_NET_ADMIN', fix: 'sudo -E npx sandbox-egress-emulator start   # or in a container: docker run --cap-add NET_ADMIN --cap-add SYS_ADMIN ...' };
  const missing = await missingTool();
  if (missing) return { ok: false, ...missing };
  const probe = `${namePrefix}probe-${newInstanceId()}`;
  const addErr = await runs('ip', ['netns', 'add', probe]);
  if (addErr !== undefined) return { ok: false, reason: `cannot create a network namespace: ${addErr}`, fix: 'in a container, add the capability: docker run --cap-add SYS_ADMIN --cap-add NET_ADMIN ... (or --privileged)' };
  await runs('ip', ['netns', 'delete', probe]);
  return { ok: true, detail: 'root network namespaces per sandbox (ip netns), nftables redirect in a gateway namespace' };
}

/** What the kernel and its security modules say about unprivileged user namespaces (before probing). */
function userNamespaceSettings(): { reason: string; fix: string } | undefined {
  const max = sysctl('user/max_user_namespaces');
  if (max === '0') return { reason: 'user namespaces are disabled (user.max_user_namespaces = 0)', fix: 'sudo sysctl -w user.max_user_namespaces=15000' };
  if (sysctl('kernel/unprivileged_userns_clone') === '0') return { reason: 'unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0)', fix: 'sudo sysctl -w kernel.unprivileged_userns_clone=1' };
  if (sysctl('kernel/apparmor_restrict_unprivileged_userns') === '1' && (process.getuid?.() ?? 0) !== 0) {
    return { reason: 'AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1)', fix: 'sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0' };
  }
  return undefined;
}

/** The probe: the pieces the rootless backend needs, inside a throwaway user namespace. */
const rootlessProbeScript = 'mount -t tmpfs see-probe /run && nft add table ip see-probe && ip link add name see-p0 type veth peer name see-p1';

/** Can this process run the rootless backend? */
export async function detectRootlessBackend(): Promise<BackendCheck> {
  if (process.platform !== 'linux') return { ok: false, reason: `transparent interception needs Linux (this is ${process.platform})`, fix: 'run the emulator in a Linux VM or container (docker compose up: see README)' };
  const setting = userNamespaceSettings();
  if (setting) return { ok: false, ...setting };
  const missing = await missingTool();
  if (missing) return { ok: false, ...missing };
  const userns = await runs('unshare', ['--user', '--map-root-user', '--net', '--mount', 'true']);
  if (userns !== undefined) {
    // Docker's default seccomp profile refuses unshare(CLONE_NEWUSER) without CAP_SYS_ADMIN.
    const seccomp = statusField('Seccomp');
    if (seccomp === '2') return { ok: false, reason: `a seccomp filter refuses to create a user namespace (${userns}); a container's default profile does`, fix: 'docker run --security-opt seccomp=unconfined ...   # or a profile that allows unshare/clone with CLONE_NEWUSER' };
    return { ok: false, reason: `cannot create a user namespace: ${userns}`, fix: 'sudo sysctl -w user.max_user_namespaces=15000' };
  }
  const inside = await runs('unshare', ['--user', '--map-root-user', '--net', '--mount', 'sh', '-c', rootlessProbeScript]);
  if (inside !== undefined) {
    if (/nft|netlink|table/i.test(inside)) return { ok: false, reason: `nftables does not work inside a user namespace: ${inside}`, fix: 'sudo modprobe nf_tables nft_redirect nf_nat   # as root, once' };
    if (/veth|link/i.test(inside)) return { ok: false, reason: `veth pairs cannot be created inside a user namespace: ${inside}`, fix: 'sudo modprobe veth   # as root, once' };
    return { ok: false, reason: `the user namespace probe failed: ${inside}`, fix: 'sudo sysctl -w user.max_user_namespaces=15000' };
  }
  return { ok: true, detail: 'a user namespace of your own (unshare --user --map-root-user), with the same network namespaces, nftables redirect and conntrack stream inside' };
}

export async function detectInterception(): Promise<InterceptionDetection> {
  const [root, rootless] = await Promise.all([detectRootBackend(), detectRootlessBackend()]);
  return {
    platform: process.platform,
    uid: process.getuid?.(),
    root,
    rootless,
    explicit: { ok: true, detail: 'loopback SOCKS5 and HTTP CONNECT ingress ports per sandbox; captures only programs that honour proxy settings' },
    auto: root.ok ? 'transparent (root)' : rootless.ok ? 'transparent (rootless)' : 'explicit',
  };
}

/** The root backend only (kept for the transparent tests' skip logic). */
export async function detectTransparentSupport(): Promise<TransparentSupport> {
  const root = await detectRootBackend();
  return root.ok ? { ok: true } : { ok: false, reason: root.reason };
}

/** `detect`'s text: one block per mode, each unavailable one with its reason and the fix. */
export function formatDetection(d: InterceptionDetection): string {
  const line = (name: string, c: BackendCheck): string =>
    c.ok ? `  ${name.padEnd(24)} available: ${c.detail}\n` : `  ${name.padEnd(24)} not available: ${c.reason}\n  ${''.padEnd(24)} fix: ${c.fix}\n`;
  return (
    `Interception modes on ${d.platform}${d.uid !== undefined ? ` (uid ${d.uid})` : ''}:\n` +
    line('transparent (root)', d.root) +
    line('transparent (rootless)', d.rootless) +
    `  ${'explicit'.padEnd(24)} available: ${d.explicit.detail}\n` +
    `--interception auto uses: ${d.auto}\n`
  );
}
