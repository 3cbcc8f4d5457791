import { timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { EmulatorError } from '../errors.js';
import { MAX_CREDENTIAL_BYTES } from '../socks5/protocol.js';

/** The test proxy's RFC 1929 users: validation and the live table that checks credentials. */

export interface TestProxyUser {
  username: string;
  password: string;
}

export const defaultTestProxyUsers: readonly TestProxyUser[] = [{ username: 'proxy-user', password: 'proxy-pass' }];

const userSchema = z
  .object({
    username: z.string().min(1, 'username must not be empty').refine((u) => Buffer.byteLength(u) <= MAX_CREDENTIAL_BYTES, 'username is longer than 255 bytes'),
    password: z.string().min(1, 'password must not be empty').refine((p) => Buffer.byteLength(p) <= MAX_CREDENTIAL_BYTES, 'password is longer than 255 bytes'),
  })
  .strict();
export const testProxyUsersSchema = z.array(userSchema).refine((us) => new Set(us.map((u) => u.username)).size === us.length, 'usernames must be unique');

export function validateUsers(users: unknown): TestProxyUser[] {
  const parsed = testProxyUsersSchema.safeParse(users);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // Issue messages never include the value, so a bad password is not echoed.
    throw new EmulatorError('invalid_users', `users${issue?.path.length ? '.' + issue.path.map(String).join('.') : ''}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const toTable = (users: readonly TestProxyUser[]): Map<string, string> => new Map(users.map((u) => [u.username, u.password]));

/** The users new connections authenticate against; `reset()` goes back to those given at creation. */
export class UserTable {
  private readonly initial: TestProxyUser[];
  private table: Map<string, string>;

  /** Throws `EmulatorError('invalid_users')`. */
  constructor(users: readonly TestProxyUser[]) {
    this.initial = validateUsers(users);
    this.table = toTable(this.initial);
  }

  list(): TestProxyUser[] {
    return [...this.table].map(([username, password]) => ({ username, password }));
  }

  usernames(): string[] {
    return [...this.table.keys()];
  }

  /** Validates (RFC 1929 limits, unique names) before replacing; throws `EmulatorError('invalid_users')`. */
  replace(users: unknown): void {
    this.table = toTable(validateUsers(users));
  }

  reset(): void {
    this.table = toTable(this.initial);
  }

  /** Constant-time for a known user's password. */
  verify(username: string, password: string): boolean {
    const known = this.table.get(username);
    return known !== undefined && sameSecret(known, password);
  }
}
