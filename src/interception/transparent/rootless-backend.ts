import { lstatSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmulatorError } from '../../errors.js';
import { RootNamespaceBackend, type RootNamespaceBackendOptions } from './root-backend.js';
import type { SandboxUser } from './sandbox-confinement.js';
import { UserNamespaceAnchor } from './user-namespace-anchor.js';

/**
 * The rootless implementation of NamespaceBackend: the root backend's topology (gateway and sandbox
 * network namespaces, veths, the nft redirect, the conntrack event stream, one init per sandbox),
 * built inside a user namespace this user owns (user-namespace-anchor.ts). What it cannot do is
 * listed by `rootlessLimitations`, for /_emulator/info and the banner.
 */

export function rootlessLimitations(user: SandboxUser): string[] {
  const out = [
    user.kind === 'uid'
      ? `sandbox commands appear as uid ${user.uid} (a nested user namespace) but are your own user to the kernel: a user namespace created without root maps a single uid, so they can read what your user can read outside the masked emulator paths`
      : 'sandbox commands run as your own user (uid 0 inside the user namespace): a user namespace created without root maps a single uid, so they can read what your user can read outside the masked emulator paths',
  ];
  if (user.kind === 'root' && user.privileged) out.push('--sandbox-privileged gives capabilities only inside the user namespace, never on the host');
  return out;
}

/** Per-user state dir, outside /run (the user namespace puts a tmpfs over /run). Must be ours and private. */
export function defaultRootlessStateDir(): string {
  const uid = process.getuid?.() ?? 0;
  const tmp = tmpdir();
  return join(tmp === '/run' || tmp.startsWith('/run/') ? '/tmp' : tmp, `sandbox-egress-emulator-${uid}`);
}

function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory() || st.uid !== (process.getuid?.() ?? st.uid) || (st.mode & 0o022) !== 0) {
    throw new EmulatorError('unsafe_state_dir', `${dir} must be a directory owned by this user and writable by nobody else`);
  }
}

export type RootlessNamespaceBackendOptions = Omit<RootNamespaceBackendOptions, 'rootless'>;

export function createRootlessNamespaceBackend(options: RootlessNamespaceBackendOptions): RootNamespaceBackend {
  const stateDir = options.stateDir ?? defaultRootlessStateDir();
  ensurePrivateDir(stateDir);
  return new RootNamespaceBackend({
    ...options,
    stateDir,
    rootless: { anchor: new UserNamespaceAnchor() },
  });
}
