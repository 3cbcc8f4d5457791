import { EmulatorError } from '../../errors.js';

/**
 * How a transparent sandbox's programs are confined (pure: argument vectors and the init script;
 * sandbox-init.ts runs them). Each sandbox gets one init process, started in the sandbox's network
 * namespace with its own PID and mount namespaces; every command joins those three namespaces and
 * then drops to the sandbox user with no_new_privs and an empty capability bounding set.
 *
 * In the init's mount namespace: the sandbox's resolv.conf and hosts are bound over /etc, the
 * emulator's data dir, state dir and other runtime paths are covered by an empty tmpfs (files by
 * /dev/null), /proc is the sandbox's own (the emulator's processes are not in it), and the fixture
 * CA is copied to `<first masked dir>/ca.crt`, readable by any user.
 */

/** Who a sandbox's commands run as. */
export type SandboxUser =
  /** An unprivileged uid/gid (default 65534:65534, "nobody"). */
  | { kind: 'uid'; uid: number; gid: number }
  /** uid 0; without capabilities unless `privileged`. */
  | { kind: 'root'; privileged: boolean };

export const defaultSandboxUser: SandboxUser = { kind: 'uid', uid: 65534, gid: 65534 };

export interface SandboxConfinement {
  user: SandboxUser;
  /** Paths hidden inside the sandbox (directories get an empty tmpfs, files /dev/null). Missing ones are skipped. */
  maskPaths: readonly string[];
  /** The fixture CA on the host; copied into the sandbox where every user can read it. */
  caCertPath?: string;
  /** Its PEM text (read once by the backend; passed to the init as an argument). */
  caCertText?: string;
}

/** The process title of a sandbox's init (what `cat /proc/1/cmdline` shows inside). */
export const sandboxInitTitle = 'see-sandbox-init';
/** Printed by the init script once its mounts are in place. */
export const sandboxInitReadyLine = 'see-sandbox-init-ready';

/**
 * The init: reaps orphans (it is PID 1 of the sandbox's PID namespace) and exits when its stdin
 * closes, i.e. when the emulator goes away, crash included; the kernel then kills every process left
 * in the namespace. perl is part of every Debian-like base system; without it, a shell loop does the
 * exit-on-close part (orphans are then reaped only when the sandbox ends).
 */
const perlInit = `$0 = "${sandboxInitTitle}"; $| = 1; my $rin = ""; vec($rin, 0, 1) = 1; while (1) { 1 while waitpid(-1, 1) > 0; my $r = $rin; if (select($r, undef, undef, 1) > 0) { my $n = sysread(STDIN, my $b, 64); exit 0 if !$n; } }`;

/**
 * The shell script the init starts with: `sh -c <script> see-sandbox-init <etcDir> <caPem> <mask>...`.
 * Paths (and the CA's text) arrive as positional parameters, never interpolated into the script. Few
 * processes: each one costs a sandbox creation several milliseconds on a busy machine.
 */
export const sandboxInitScript = String.raw`set -e
umask 022
etc="$1"; ca_text="$2"; shift 2
bind_file() {
  dst="$2"
  # A symlinked /etc/resolv.conf (systemd-resolved) may point into a /run we cannot see: bind over its target.
  if [ -L "$dst" ]; then dst="$(readlink -m "$dst")"; mkdir -p "$(dirname "$dst")"; [ -e "$dst" ] || : > "$dst"; fi
  mount --bind "$1" "$dst"
}
bind_file "$etc/resolv.conf" /etc/resolv.conf
bind_file "$etc/hosts" /etc/hosts
first=""
for p in "$@"; do
  if [ -d "$p" ]; then
    mount -t tmpfs -o mode=0755,size=1m see-masked "$p"
    [ -n "$first" ] || first="$p"
  elif [ -e "$p" ]; then
    mount --bind /dev/null "$p"
  fi
done
if [ -n "$ca_text" ] && [ -n "$first" ]; then printf '%s' "$ca_text" > "$first/ca.crt"; fi
echo ${sandboxInitReadyLine}
if command -v perl >/dev/null 2>&1; then exec perl -e '${perlInit}'; fi
exec sh -c 'while read -r _; do :; done'
`;

/** Where the CA is inside the sandbox (see sandboxInitScript), or undefined when none is copied. */
export function sandboxCaPath(confinement: SandboxConfinement): string | undefined {
  const dir = confinement.maskPaths[0];
  return confinement.caCertText && dir ? `${dir.replace(/\/+$/, '')}/ca.crt` : undefined;
}

/**
 * The argv (after the namespace entry prefix) that starts a sandbox's init: new PID and mount
 * namespaces, a fresh /proc, and the init killed with its `unshare` parent.
 */
export function sandboxInitArgs(etcDir: string, confinement: SandboxConfinement): string[] {
  return ['unshare', '--pid', '--fork', '--kill-child', '--mount-proc', '--propagation', 'private', '--', 'sh', '-c', sandboxInitScript, sandboxInitTitle, etcDir, confinement.caCertText ?? '', ...confinement.maskPaths];
}

/**
 * The argv that runs `command` inside a sandbox whose init's `unshare` parent has host pid `anchorPid`:
 * its network, mount and PID namespaces (the PID namespace is the one its children are in), the
 * working directory resolved inside, then the sandbox user. `joinUserNamespace`: the rootless
 * backend's processes live in a user namespace of their own.
 */
export function sandboxExecArgs(anchorPid: number, command: readonly string[], { user, cwd = '/', joinUserNamespace = false }: { user: SandboxUser; cwd?: string; joinUserNamespace?: boolean }): string[] {
  if (command.length === 0) throw new EmulatorError('invalid_command', 'command is empty');
  const enter = ['nsenter', `--target=${anchorPid}`, ...(joinUserNamespace ? ['--user', '--preserve-credentials'] : []), '--net', '--mount', `--pid=/proc/${anchorPid}/ns/pid_for_children`, `--wdns=${cwd}`, '--'];
  return [...enter, ...(joinUserNamespace ? rootlessDropPrivilegesArgs(user) : dropPrivilegesArgs(user)), ...command];
}

const dropCaps = ['--no-new-privs', '--bounding-set=-all', '--inh-caps=-all'];

/**
 * The rootless backend's user namespace maps one uid (this user, as 0) and refuses setgroups(): a
 * non-root sandbox user is a nested user namespace mapping that uid to the sandbox uid (`id -u` says
 * 65534; to the kernel it is still this user). `--keep-caps` lets setpriv empty the bounding set
 * before the command runs without any capability.
 */
export function rootlessDropPrivilegesArgs(user: SandboxUser): string[] {
  if (user.kind === 'root') return user.privileged ? ['setpriv', '--pdeathsig=SIGKILL', '--'] : ['setpriv', ...dropCaps, '--pdeathsig=SIGKILL', '--'];
  return ['unshare', '--user', `--map-user=${user.uid}`, `--map-group=${user.gid}`, '--keep-caps', '--', 'setpriv', ...dropCaps, '--pdeathsig=SIGKILL', '--'];
}

/** setpriv: the sandbox user, no_new_privs, no capabilities, killed when its nsenter parent dies. */
export function dropPrivilegesArgs(user: SandboxUser): string[] {
  const groups = ['--clear-groups'];
  switch (user.kind) {
    case 'uid':
      return ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, ...groups, ...dropCaps, '--pdeathsig=SIGKILL', '--'];
    case 'root':
      return user.privileged ? ['setpriv', '--pdeathsig=SIGKILL', '--'] : ['setpriv', ...groups, ...dropCaps, '--pdeathsig=SIGKILL', '--'];
  }
}

/** `--sandbox-user` values: `root`, a uid, or `uid:gid`. Throws a message naming the flag. */
export function parseSandboxUser(value: string, privileged = false): SandboxUser {
  if (value === 'root' || value === '0') return { kind: 'root', privileged };
  const m = /^(\d{1,10})(?::(\d{1,10}))?$/.exec(value);
  if (!m) throw new EmulatorError('invalid_sandbox_user', `invalid --sandbox-user "${value}": must be root, UID or UID:GID`);
  const uid = Number(m[1]);
  const gid = m[2] === undefined ? uid : Number(m[2]);
  if (uid > 0xfffffffe || gid > 0xfffffffe) throw new EmulatorError('invalid_sandbox_user', `invalid --sandbox-user "${value}": uid and gid must be below 4294967295`);
  if (privileged) throw new EmulatorError('invalid_sandbox_user', '--sandbox-privileged needs --sandbox-user root');
  return { kind: 'uid', uid, gid };
}

/** HOME for the sandbox user: root's, else a directory every user can write. */
export const sandboxHome = (user: SandboxUser): string => (user.kind === 'root' ? '/root' : '/tmp');

/** One line for /_emulator/info and the banner. */
export function describeSandboxUser(user: SandboxUser): string {
  if (user.kind === 'uid') return `uid ${user.uid}, gid ${user.gid}, no capabilities, no_new_privs`;
  return user.privileged ? 'root with capabilities (--sandbox-privileged)' : 'uid 0 without capabilities, no_new_privs';
}
