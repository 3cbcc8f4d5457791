import { randomBytes } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomicPrivateSync } from './store/write-file-atomic-private.js';

/** The CLI's default API port (documented in the README); the library defaults to port 0. */
export const defaultApiPort = 4780;
export const defaultHost = '127.0.0.1';
export const tokenFile = 'token';

/**
 * Is this listen address reachable from this machine only? `localhost`, 127.0.0.0/8, ::1 and their
 * IPv4-mapped forms are; the wildcard addresses (0.0.0.0, ::) and every other address are not.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (bare.toLowerCase() === 'localhost') return true;
  if (!ipaddr.isValid(bare)) return false;
  return ipaddr.process(bare).range() === 'loopback';
}

/**
 * Tokens published with the project (the docker-compose file's old default): anyone can read them,
 * so they never guard an API reachable from other machines.
 */
export const wellKnownTokens: ReadonlySet<string> = new Set(['s0_local_compose_dev_token']);

/**
 * Why this token must not guard an API listening on `host`, or undefined. Beyond loopback the token
 * must be one the user chose (`--token`, a token file, `SEE_TOKEN`), never a generated one they
 * may not know is there nor a published one.
 */
export function exposedTokenProblem(opts: { host: string; token?: string; env?: NodeJS.ProcessEnv }): string | undefined {
  if (isLoopbackHost(opts.host)) return undefined;
  const given = opts.token || (opts.env ?? process.env).SEE_TOKEN;
  if (!given) {
    return `--host ${opts.host} makes the API reachable beyond this machine: give it a token of your own (SEE_TOKEN, --token-file or --token), e.g. s0_local_$(openssl rand -hex 24)`;
  }
  if (wellKnownTokens.has(given)) {
    return `--host ${opts.host} makes the API reachable beyond this machine, and its token is a published one (docker-compose.yml's old default): give it a token of your own (SEE_TOKEN, --token-file or --token), e.g. s0_local_$(openssl rand -hex 24)`;
  }
  return undefined;
}

/** `$SEE_DATA_DIR`, else `$XDG_DATA_HOME/sandbox-egress-emulator`, else `~/.local/share/sandbox-egress-emulator`. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SEE_DATA_DIR) return env.SEE_DATA_DIR;
  const base = env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(base, 'sandbox-egress-emulator');
}

/** A token in upstream's API key format, `s0_<region>_<48 hex>`, so the official CLI and SDK accept it. */
export function generateToken(): string {
  return `s0_local_${randomBytes(24).toString('hex')}`;
}

/**
 * `--token`, else `SEE_TOKEN`, else the one kept in the data dir (created 0600 on first start), else a
 * fresh one. `SANDBOX0_TOKEN` is never adopted: it may be a real platform key, which the emulator
 * would then print and hand out.
 */
export function resolveToken(opts: { token?: string; env?: NodeJS.ProcessEnv; dataDir?: string }): string {
  if (opts.token) return opts.token;
  const fromEnv = (opts.env ?? process.env).SEE_TOKEN;
  if (fromEnv) return fromEnv;
  if (!opts.dataDir) return generateToken();
  const path = join(opts.dataDir, tokenFile);
  if (existsSync(path)) {
    const kept = readFileSync(path, 'utf8').trim();
    if (kept) return kept;
  }
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const token = generateToken();
  writeFileAtomicPrivateSync(path, token + '\n');
  return token;
}
