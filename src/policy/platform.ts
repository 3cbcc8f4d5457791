/**
 * The platform's own policy (reference §7 "Platform policy"): allowed/denied CIDRs and domains that
 * override every sandbox policy. Nothing is denied by default; the only built-in deny is
 * sandbox-to-sandbox, which the evaluator takes from its context (the live set of other sandbox IPs).
 */
import { DomainIndex, type DomainPattern } from './domain-index.js';
import type { CompiledCidr } from './ip.js';
import { CompileFailure, parseCidrList, parseDomainList, type CompileError } from './compile.js';

export interface PlatformSettings {
  /** Platform allowed CIDRs (bypass CIDRs such as cluster DNS and platform services). */
  allowedCidrs?: readonly string[];
  deniedCidrs?: readonly string[];
  /** Platform allowed domains (the cluster DNS and platform service names, plus configured ones). */
  allowedDomains?: readonly string[];
  deniedDomains?: readonly string[];
}

export interface CompiledPlatform {
  readonly allowedCidrs: readonly CompiledCidr[];
  readonly deniedCidrs: readonly CompiledCidr[];
  readonly allowedDomains: DomainIndex;
  readonly deniedDomains: DomainIndex;
  /** The patterns as compiled, for display. */
  readonly allowedDomainPatterns: readonly DomainPattern[];
  readonly deniedDomainPatterns: readonly DomainPattern[];
}

export type PlatformCompileResult = { ok: true; platform: CompiledPlatform } | { ok: false; error: CompileError };

const index = (patterns: readonly DomainPattern[]): DomainIndex =>
  new DomainIndex(patterns.map((pattern, owner) => ({ pattern, owner })));

/** Compile platform settings with ctld's parsing (same CIDR and domain rules as sandbox policies). */
export function compilePlatform({
  allowedCidrs = [],
  deniedCidrs = [],
  allowedDomains = [],
  deniedDomains = [],
}: PlatformSettings = {}): PlatformCompileResult {
  const steps = [
    ['parse platform allowed cidrs', () => parseCidrList(allowedCidrs)],
    ['parse platform denied cidrs', () => parseCidrList(deniedCidrs)],
    ['parse platform allowed domains', () => parseDomainList(allowedDomains)],
    ['parse platform denied domains', () => parseDomainList(deniedDomains)],
  ] as const;
  const results: unknown[] = [];
  for (const [prefix, step] of steps) {
    try {
      results.push(step());
    } catch (error) {
      if (error instanceof CompileFailure) {
        return { ok: false, error: { code: 'invalid_platform_settings', message: `${prefix}: ${error.message}` } };
      }
      throw error;
    }
  }
  const [allowedC, deniedC, allowedD, deniedD] = results as [CompiledCidr[], CompiledCidr[], DomainPattern[], DomainPattern[]];
  return {
    ok: true,
    platform: {
      allowedCidrs: allowedC,
      deniedCidrs: deniedC,
      allowedDomains: index(allowedD),
      deniedDomains: index(deniedD),
      allowedDomainPatterns: allowedD,
      deniedDomainPatterns: deniedD,
    },
  };
}

/** A platform with no rules at all (what a bare test or `compiled === undefined` paths use). */
export const emptyPlatform: CompiledPlatform = {
  allowedCidrs: [],
  deniedCidrs: [],
  allowedDomains: new DomainIndex(),
  deniedDomains: new DomainIndex(),
  allowedDomainPatterns: [],
  deniedDomainPatterns: [],
};
