import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { prefixed } from '../../../src/interception/transparent/ip-command.js';
import { formatDetection, type InterceptionDetection } from '../../../src/interception/transparent/detect.js';
import { rootlessLimitations } from '../../../src/interception/transparent/rootless-backend.js';
import {
  defaultSandboxUser,
  dropPrivilegesArgs,
  parseSandboxUser,
  rootlessDropPrivilegesArgs,
  sandboxCaPath,
  sandboxExecArgs,
  sandboxFstab,
  sandboxInitArgs,
  sandboxInitPerl,
  sandboxInitScript,
} from '../../../src/interception/transparent/sandbox-confinement.js';
import { sandboxPath } from '../../../src/interception/transparent/sandbox-init.js';
import { worldOptions } from '../../../src/cli/emulator-flags.js';

describe('sandbox confinement argument vectors', () => {
  it('a command joins the init\'s net, mount and child PID namespaces, then drops to 65534 with no capabilities', () => {
    expect(sandboxExecArgs(4242, ['curl', '-sS', 'https://x/'], { user: defaultSandboxUser, cwd: '/work dir' })).toEqual([
      'nsenter', '--target=4242', '--net', '--mount', '--pid=/proc/4242/ns/pid_for_children', '--wdns=/work dir', '--',
      'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--no-new-privs', '--bounding-set=-all', '--inh-caps=-all', '--pdeathsig=SIGKILL', '--',
      'curl', '-sS', 'https://x/',
    ]);
  });

  it('root opt-in keeps uid 0 but drops every capability; --sandbox-privileged keeps them', () => {
    expect(dropPrivilegesArgs({ kind: 'root', privileged: false })).toEqual(['setpriv', '--clear-groups', '--no-new-privs', '--bounding-set=-all', '--inh-caps=-all', '--pdeathsig=SIGKILL', '--']);
    expect(dropPrivilegesArgs({ kind: 'root', privileged: true })).toEqual(['setpriv', '--pdeathsig=SIGKILL', '--']);
  });

  it('rootless: joins the user namespace without setgroups, and maps the sandbox uid in a nested one', () => {
    const args = sandboxExecArgs(7, ['true'], { user: { kind: 'uid', uid: 1000, gid: 1001 }, joinUserNamespace: true });
    expect(args.slice(0, 4)).toEqual(['nsenter', '--target=7', '--user', '--preserve-credentials']);
    expect(rootlessDropPrivilegesArgs({ kind: 'uid', uid: 1000, gid: 1001 })).toEqual([
      'unshare', '--user', '--map-user=1000', '--map-group=1001', '--keep-caps', '--',
      'setpriv', '--no-new-privs', '--bounding-set=-all', '--inh-caps=-all', '--pdeathsig=SIGKILL', '--',
    ]);
    expect(args).not.toContain('--clear-groups');
  });

  it('refuses an empty command', () => {
    expect(() => sandboxExecArgs(1, [], { user: defaultSandboxUser })).toThrow(/command is empty/);
  });

  it('the init gets its paths and the CA as arguments, never inside its code', () => {
    const pem = '-----BEGIN CERTIFICATE-----\n$(reboot)\n-----END CERTIFICATE-----\n';
    const confinement = { user: defaultSandboxUser, maskPaths: ['/run/see', "/data/it's here"], caCertPath: '/pkg/ca.crt', caCertText: pem };
    const args = sandboxInitArgs('see-abcde-s0', '/etc/netns/see-abcde-s0/fstab', confinement);
    expect(args.slice(0, 8)).toEqual(['nsenter', '--net=/run/netns/see-abcde-s0', '--', 'unshare', '--pid', '--fork', '--kill-child', '--mount-proc']);
    expect(args.slice(-3)).toEqual(['/etc/netns/see-abcde-s0/fstab', pem, '/run/see/ca.crt']);
    expect(args).toContain('perl');
    expect(sandboxInitArgs('n', '/f', confinement, { perl: false })).toContain('sh');
    expect(sandboxInitPerl).not.toContain('/run/see');
  });

  it('the init code is valid sh and valid perl', () => {
    expect(() => execFileSync('sh', ['-n', '-c', sandboxInitScript])).not.toThrow();
    expect(() => execFileSync('perl', ['-c', '-e', sandboxInitPerl], { stdio: 'pipe' })).not.toThrow();
  });

  it('the fstab binds resolv.conf and hosts first, then masks; blanks and backslashes are escaped', () => {
    expect(sandboxFstab({ etcDir: '/state/i1/see-i1-s0', masks: [{ path: '/state', kind: 'dir' }, { path: '/home/u/my data', kind: 'dir' }, { path: '/tmp/ready\\.json', kind: 'file' }] })).toBe(
      '/state/i1/see-i1-s0/resolv.conf /etc/resolv.conf none bind 0 0\n' +
        '/state/i1/see-i1-s0/hosts /etc/hosts none bind 0 0\n' +
        'see-sysfs /sys sysfs nofail 0 0\n' +
        'see-masked /state tmpfs mode=0755,size=1m,nofail 0 0\n' +
        'see-masked /home/u/my\\040data tmpfs mode=0755,size=1m,nofail 0 0\n' +
        '/dev/null /tmp/ready\\134.json none bind,nofail 0 0\n',
    );
  });

  it('the CA copy lives in the first masked directory', () => {
    expect(sandboxCaPath({ user: defaultSandboxUser, maskPaths: ['/run/sandbox-egress-emulator/'], caCertPath: '/x/ca.crt', caCertText: 'PEM' })).toBe('/run/sandbox-egress-emulator/ca.crt');
    expect(sandboxCaPath({ user: defaultSandboxUser, maskPaths: ['/run/x'] })).toBeUndefined();
  });

  it('a prefix puts a command behind nsenter', () => {
    expect(prefixed([], 'ip', ['netns', 'list'])).toEqual(['ip', ['netns', 'list']]);
    expect(prefixed(['nsenter', '--target=9', '--'], 'ip', ['netns', 'list'])).toEqual(['nsenter', ['--target=9', '--', 'ip', 'netns', 'list']]);
  });

  it("the sandbox PATH drops directories the sandbox user cannot search; root's is kept", () => {
    expect(sandboxPath('/usr/bin:relative:/nonexistent-see-dir:/bin', defaultSandboxUser)).toBe('/usr/bin:/bin');
    expect(sandboxPath('/a:/b', { kind: 'root', privileged: false })).toBe('/a:/b');
  });
});

describe('--sandbox-user', () => {
  it('parses root, UID and UID:GID, and rejects the rest with the flag name', () => {
    expect(parseSandboxUser('root')).toEqual({ kind: 'root', privileged: false });
    expect(parseSandboxUser('root', true)).toEqual({ kind: 'root', privileged: true });
    expect(parseSandboxUser('1000')).toEqual({ kind: 'uid', uid: 1000, gid: 1000 });
    expect(parseSandboxUser('1000:50')).toEqual({ kind: 'uid', uid: 1000, gid: 50 });
    expect(() => parseSandboxUser('nobody')).toThrow('invalid --sandbox-user "nobody": must be root, UID or UID:GID');
    expect(() => parseSandboxUser('1000', true)).toThrow('--sandbox-privileged needs --sandbox-user root');
  });

  it('reaches the emulator options from the CLI flags', () => {
    expect(worldOptions({ 'sandbox-user': '1000:1000' }).sandboxUser).toEqual({ kind: 'uid', uid: 1000, gid: 1000 });
    expect(worldOptions({ 'sandbox-privileged': true }).sandboxUser).toEqual({ kind: 'root', privileged: true });
    expect(worldOptions({}).sandboxUser).toBeUndefined();
    expect(worldOptions({ 'transparent-backend': 'rootless' }).transparentBackend).toBe('rootless');
    expect(() => worldOptions({ 'transparent-backend': 'fast' })).toThrow(/--transparent-backend/);
  });
});

describe('what rootless cannot do, and detect', () => {
  it('names the single-uid mapping as the reason', () => {
    expect(rootlessLimitations(defaultSandboxUser)[0]).toMatch(/appear as uid 65534.*maps a single uid/);
    expect(rootlessLimitations({ kind: 'root', privileged: true })).toHaveLength(2);
  });

  it('prints each unavailable mode with its reason and its fix', () => {
    const d: InterceptionDetection = {
      platform: 'linux',
      uid: 1000,
      root: { ok: false, reason: 'needs root', fix: 'sudo -E npx sandbox-egress-emulator start' },
      rootless: { ok: false, reason: 'user namespaces are disabled (user.max_user_namespaces = 0)', fix: 'sudo sysctl -w user.max_user_namespaces=15000' },
      explicit: { ok: true, detail: 'ports' },
      auto: 'explicit',
    };
    const text = formatDetection(d);
    expect(text).toContain('transparent (rootless)   not available: user namespaces are disabled (user.max_user_namespaces = 0)');
    expect(text).toContain('fix: sudo sysctl -w user.max_user_namespaces=15000');
    expect(text).toContain('--interception auto uses: explicit');
  });
});
