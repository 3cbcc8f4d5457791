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
 * The sandbox's mounts as an fstab, so that one `mount --fstab <file> -a` makes them all (in order):
 * its resolv.conf and hosts over /etc, a sysfs of its own network namespace, and every masked path —
 * directories under an empty tmpfs, files under /dev/null (`nofail`: a path gone meanwhile is skipped).
 */
export interface SandboxMounts {
  etcDir: string;
  masks: readonly { path: string; kind: 'dir' | 'file' }[];
}

/** fstab fields escape blanks, newlines and backslashes as octal (fstab(5)). */
export const fstabEscape = (field: string): string => field.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);

export function sandboxFstab({ etcDir, masks }: SandboxMounts): string {
  const line = (...fields: string[]): string => `${fields.map(fstabEscape).join(' ')} 0 0\n`;
  let text = line(`${etcDir}/resolv.conf`, '/etc/resolv.conf', 'none', 'bind') + line(`${etcDir}/hosts`, '/etc/hosts', 'none', 'bind') + line('see-sysfs', '/sys', 'sysfs', 'nofail');
  for (const m of masks) text += m.kind === 'dir' ? line('see-masked', m.path, 'tmpfs', 'mode=0755,size=1m,nofail') : line('/dev/null', m.path, 'none', 'bind,nofail');
  return text;
}

/**
 * The init (perl: part of every Debian-like base system): makes the mounts, writes the CA copy,
 * reports ready, then reaps orphans (it is PID 1 of the sandbox's PID namespace) and exits when its
 * stdin closes, i.e. when the emulator goes away, crash included; the kernel then kills every process
 * left in the namespace. Arguments: <fstab> <CA text> <CA destination>. A symlinked /etc/resolv.conf
 * (systemd-resolved) may point into a /run the rootless backend replaced: its target is created first.
 */
export const sandboxInitPerl = `$0 = "${sandboxInitTitle}"; $| = 1; umask 022; my ($fstab, $ca, $dst) = @ARGV; @ARGV = ();
for my $f ("/etc/resolv.conf", "/etc/hosts") { next unless -l $f; my $t = readlink $f; $t = "/etc/$t" unless $t =~ m{^/}; next if -e $t; (my $d = $t) =~ s{/[^/]*$}{}; system("mkdir", "-p", $d); open(my $h, ">", $t) and close $h; }
system("mount", "--fstab", $fstab, "-a") == 0 or die "mount failed\\n";
if (length $ca) { open(my $h, ">", $dst) or die "$dst: $!\\n"; print $h $ca; close $h; }
print "${sandboxInitReadyLine}\\n";
my $rin = ""; vec($rin, 0, 1) = 1;
while (1) { 1 while waitpid(-1, 1) > 0; my $r = $rin; if (select($r, undef, undef, 1) > 0) { my $n = sysread(STDIN, my $b, 64); exit 0 if !$n; } }`;

/** Without perl: the same in sh, except that orphans are reaped only when the sandbox ends. */
export const sandboxInitScript = String.raw`set -e
umask 022
mount --fstab "$1" -a
if [ -n "$2" ]; then printf '%s' "$2" > "$3"; fi
echo ${sandboxInitReadyLine}
exec sh -c 'while read -r _; do :; done'
`;

/** Where the CA is inside the sandbox (see sandboxInitScript), or undefined when none is copied. */
export function sandboxCaPath(confinement: SandboxConfinement): string | undefined {
  const dir = confinement.maskPaths[0];
  return confinement.caCertText && dir ? `${dir.replace(/\/+$/, '')}/ca.crt` : undefined;
}

/**
 * The argv (after the rootless prefix, if any) that starts a sandbox's init in the named network
 * namespace: new PID and mount namespaces, a fresh /proc, the init killed with its `unshare` parent.
 */
export function sandboxInitArgs(namespace: string, fstabPath: string, confinement: SandboxConfinement, { perl = true } = {}): string[] {
  const ca = sandboxCaPath(confinement);
  const init = perl ? ['perl', '-e', sandboxInitPerl] : ['sh', '-c', sandboxInitScript, sandboxInitTitle];
  return ['nsenter', `--net=/run/netns/${namespace}`, '--', 'unshare', '--pid', '--fork', '--kill-child', '--mount-proc', '--propagation', 'private', '--', ...init, fstabPath, ca ? confinement.caCertText! : '', ca ?? ''];
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
