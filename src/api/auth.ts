import { timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { localTeamId } from '../control-plane/identity.js';
import { withTeam } from '../control-plane/team-context.js';
import { ApiError } from './error-status.js';
import { fail } from './envelope.js';

/** Upstream's API key format: `s0_<regionId>_<48 hex>`; anything else is treated as a JWT. */
export const apiKeyPattern = /^s0_[a-z0-9-]+_[0-9a-f]{48}$/;

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Bearer-token auth with upstream's 401 messages (pkg/gateway/middleware/auth.go). The scheme word is
 * matched case-insensitively. The token never appears in a message or a log. The emulator's token
 * acts for the built-in team; `tenantTeam` maps a tenant's token to its team (team-context.ts), and
 * the rest of the request runs as that team.
 */
export function bearerAuth(expected: () => string, tenantTeam: (token: string) => string | undefined = () => undefined): MiddlewareHandler {
  return async (c, next) => {
    const header = c.req.header('authorization');
    if (!header) return fail(c, new ApiError('unauthorized', 'missing authorization header'));
    const m = /^(\S+)\s+(\S+)$/.exec(header.trim());
    if (!m || m[1]!.toLowerCase() !== 'bearer') return fail(c, new ApiError('unauthorized', 'invalid authorization header format'));
    const token = m[2]!;
    if (sameSecret(token, expected())) return withTeam(localTeamId, next);
    const team = tenantTeam(token);
    if (team !== undefined) return withTeam(team, next);
    return fail(c, new ApiError('unauthorized', token.startsWith('s0_') ? 'invalid api key' : 'invalid token'));
  };
}
