import { lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeReadyFile } from '../../../src/cli/emulator-flags.js';
import { resolveToken } from '../../../src/config.js';
import type { Emulator } from '../../../src/emulator.js';
import { loadOrCreateKey } from '../../../src/store/secret-box.js';
import { writeFileAtomicPrivateSync } from '../../../src/store/write-file-atomic-private.js';

/** Just what the ready file reads from an emulator. */
const fakeEmulator = {
  apiUrl: 'http://127.0.0.1:4780',
  token: 's0_local_secret-token',
  info: () => ({
    ports: { api: 4780 },
    testProxy: { address: '127.0.0.1:1080', users: [{ username: 'proxy-user', password: 'proxy-pass' }] },
    interception: { mode: 'explicit' },
    fixtureCaPath: undefined,
    dataDir: undefined,
    version: '0.0.0',
  }),
} as unknown as Emulator;

const mode = (path: string): number => statSync(path).mode & 0o777;

describe('files the emulator writes into a directory others may write (finding 1)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'see-private-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('the ready file never writes through a symlink planted at the old predictable temporary name', () => {
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'precious\n');
    const ready = join(dir, 'ready.json');
    symlinkSync(victim, `${ready}.${process.pid}.tmp`);
    writeReadyFile(ready, fakeEmulator);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(JSON.parse(readFileSync(ready, 'utf8')).token).toBe('s0_local_secret-token');
    expect(mode(ready)).toBe(0o600);
  });

  it('a pre-created world-readable file at the old temporary name does not make the ready file readable', () => {
    const ready = join(dir, 'ready.json');
    writeFileSync(`${ready}.${process.pid}.tmp`, '', { mode: 0o644 });
    writeReadyFile(ready, fakeEmulator);
    expect(mode(ready)).toBe(0o600);
  });

  it('a symlink at the ready file path is replaced, not followed', () => {
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'precious\n');
    const ready = join(dir, 'ready.json');
    symlinkSync(victim, ready);
    writeReadyFile(ready, fakeEmulator);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(lstatSync(ready).isSymbolicLink()).toBe(false);
    expect(mode(ready)).toBe(0o600);
  });

  it('the token file: a dangling symlink in the data dir is replaced, its target never created', () => {
    const victim = join(dir, 'elsewhere');
    symlinkSync(victim, join(dir, 'token'));
    const token = resolveToken({ env: {}, dataDir: dir });
    expect(() => statSync(victim)).toThrow();
    expect(readFileSync(join(dir, 'token'), 'utf8').trim()).toBe(token);
    expect(mode(join(dir, 'token'))).toBe(0o600);
  });

  it('the key file keeps an existing key (exclusive), and leaves no temporary files behind', () => {
    const path = join(dir, 'secrets.key');
    const first = loadOrCreateKey(path);
    expect(mode(path)).toBe(0o600);
    expect(loadOrCreateKey(path).equals(first)).toBe(true);
    expect(() => writeFileAtomicPrivateSync(path, 'other\n', { replace: false })).toThrow(/EEXIST/);
    expect(readdirSync(dir)).toEqual(['secrets.key']);
  });

  it('the temporary name is unguessable and created with O_EXCL|O_NOFOLLOW, mode applied despite the umask', () => {
    const previous = process.umask(0o077);
    try {
      writeFileAtomicPrivateSync(join(dir, 'shared.txt'), 'x', { mode: 0o644 });
    } finally {
      process.umask(previous);
    }
    expect(mode(join(dir, 'shared.txt'))).toBe(0o644);
    expect(readdirSync(dir)).toEqual(['shared.txt']);
  });

  it('inPlace rewrites an existing file in its own inode (a bind mount keeps seeing it) and never writes through a symlink', () => {
    const path = join(dir, 'hosts');
    writeFileAtomicPrivateSync(path, 'first\n', { mode: 0o644, inPlace: true }); // created
    const inode = statSync(path).ino;
    writeFileAtomicPrivateSync(path, 'second, longer\n', { mode: 0o644, inPlace: true });
    expect(statSync(path).ino).toBe(inode);
    expect(readFileSync(path, 'utf8')).toBe('second, longer\n');
    writeFileAtomicPrivateSync(path, 'x\n', { mode: 0o644, inPlace: true });
    expect(readFileSync(path, 'utf8')).toBe('x\n'); // truncated
    expect(statSync(path).mode & 0o777).toBe(0o644);
    const target = join(dir, 'elsewhere');
    writeFileSync(target, 'untouched');
    const link = join(dir, 'linked-hosts');
    symlinkSync(target, link);
    expect(() => writeFileAtomicPrivateSync(link, 'evil', { inPlace: true })).toThrow();
    expect(readFileSync(target, 'utf8')).toBe('untouched');
  });
});
