import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { generateToken } from '../config.js';
import { localTeamId } from './identity.js';

/**
 * Which team an API request acts for. The bearer token decides it (auth.ts): the emulator's own token
 * is the built-in team (`team-local`); a tenant token (`emulator.tenant()`, `POST /_emulator/tenants`)
 * is a team of its own, so parallel test files share one emulator without seeing each other's
 * sandboxes, credential sources or flows. Carried through the request's async calls so the control
 * plane reads it without every signature passing it along.
 */
const requestTeam = new AsyncLocalStorage<string>();

/** Runs `fn` as a request of `teamId`. */
export function withTeam<T>(teamId: string, fn: () => T): T {
  return requestTeam.run(teamId, fn);
}

/** The team of the API request being served, or undefined outside one (the data plane, library calls). */
export function requestTeamId(): string | undefined {
  return requestTeam.getStore();
}

/** The team a request (or a library call, outside any request) creates and lists things in. */
export function currentTeamId(): string {
  return requestTeam.getStore() ?? localTeamId;
}

export interface Tenant {
  teamId: string;
  token: string;
}

/** Tenants of one emulator: in memory, for its lifetime (kept across reset, which empties them). */
export interface TenantRegistry {
  create(): Tenant;
  /** The team a bearer token acts for, if it is a tenant's. */
  teamOf(token: string): string | undefined;
  /** The token of a tenant team, if it is one. */
  tokenOf(teamId: string): string | undefined;
  readonly size: number;
}

export function createTenantRegistry(): TenantRegistry {
  const byToken = new Map<string, string>();
  const byTeam = new Map<string, string>();
  return {
    create() {
      const tenant = { teamId: `team-${randomBytes(6).toString('hex')}`, token: generateToken() };
      byToken.set(tenant.token, tenant.teamId);
      byTeam.set(tenant.teamId, tenant.token);
      return tenant;
    },
    teamOf: (token) => byToken.get(token),
    tokenOf: (teamId) => byTeam.get(teamId),
    get size() {
      return byToken.size;
    },
  };
}
