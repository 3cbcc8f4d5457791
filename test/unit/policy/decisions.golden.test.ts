// Golden decision table: every case in fixtures/decisions/*.json is compiled and evaluated.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../../src/policy/compile.js';
import { compilePlatform, type PlatformSettings } from '../../../src/policy/platform.js';
import { evaluate, type EvaluateContext, type FlowFacts } from '../../../src/policy/evaluate.js';
import { reasonCodes, type AppProtocol, type SandboxNetworkPolicy, type UnknownReason } from '../../../src/policy/types.js';

const fixtureDir = join(dirname(fileURLToPath(import.meta.url)), '../../../fixtures/decisions');

interface FlowShorthand {
  ip: string;
  port: number;
  transport?: 'tcp' | 'udp';
  app?: AppProtocol;
  host?: string;
  hostSource?: 'classifier' | 'dns-cache';
  unknown?: UnknownReason;
}

interface Expected {
  action: string;
  reason: string;
  phase: string;
  rule?: string;
}

interface Setting {
  platform?: PlatformSettings;
  otherSandboxIps?: string[];
  sourceIp?: string;
  dns?: Record<string, string[] | null>;
  verify?: boolean;
}

interface GoldenCase extends Setting {
  id: string;
  why: string;
  policy: string | SandboxNetworkPolicy | null;
  flow?: FlowShorthand;
  expect?: Expected;
  compileError?: { code: string; message: string };
}

interface GoldenFile {
  description: string;
  defaults?: Setting;
  policies?: Record<string, SandboxNetworkPolicy>;
  cases: GoldenCase[];
}

const files = readdirSync(fixtureDir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((name) => ({ name, data: JSON.parse(readFileSync(join(fixtureDir, name), 'utf8')) as GoldenFile }));

function toFlow(flow: FlowShorthand): FlowFacts {
  const classification: FlowFacts['classification'] =
    flow.unknown !== undefined
      ? { kind: 'unknown', reason: flow.unknown }
      : {
          kind: 'known',
          appProtocol: flow.app!,
          ...(flow.host === undefined ? {} : { host: flow.host }),
          ...(flow.hostSource === undefined ? {} : { hostSource: flow.hostSource }),
        };
  return { destIp: flow.ip, destPort: flow.port, transport: flow.transport ?? 'tcp', classification };
}

function toContext(setting: Setting): EvaluateContext {
  const dns = setting.dns ?? {};
  return {
    otherSandboxIps: new Set(setting.otherSandboxIps ?? []),
    ...(setting.sourceIp === undefined ? {} : { sourceIp: setting.sourceIp }),
    ...(setting.verify === false
      ? {}
      : {
          verifyHost: (host: string) => {
            const answer = Object.hasOwn(dns, host) ? dns[host] : null;
            return answer === null || answer === undefined ? { ok: false as const } : { ok: true as const, addresses: answer };
          },
        }),
  };
}

const seenReasons = new Set<string>();
const allCases = files.flatMap((f) => f.data.cases);

describe('golden decision table', () => {
  it('has at least 150 cases, each with a unique id and a why', () => {
    expect(allCases.length).toBeGreaterThanOrEqual(150);
    const ids = allCases.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const c of allCases) expect(c.why.length, c.id).toBeGreaterThan(10);
    for (const c of allCases) expect(c.expect !== undefined || c.compileError !== undefined, c.id).toBe(true);
  });

  for (const { name, data } of files) {
    describe(name, () => {
      for (const c of data.cases) {
        it(`${c.id}: ${c.why}`, () => {
          const setting: Setting = { ...data.defaults, ...Object.fromEntries(Object.entries(c).filter(([k]) => ['platform', 'otherSandboxIps', 'sourceIp', 'dns', 'verify'].includes(k))) };
          const policy = typeof c.policy === 'string' ? data.policies?.[c.policy] : c.policy;
          if (typeof c.policy === 'string') expect(policy, `policy ${c.policy} is defined`).toBeDefined();
          const compiled = policy === null || policy === undefined ? undefined : compilePolicy(policy);
          if (c.compileError !== undefined) {
            expect(compiled?.ok).toBe(false);
            if (compiled !== undefined && !compiled.ok) expect(compiled.error).toEqual(c.compileError);
          } else if (compiled !== undefined && !compiled.ok) {
            throw new Error(`unexpected compile error: ${compiled.error.message}`);
          }
          if (c.expect === undefined || c.flow === undefined) return;
          const platform = compilePlatform(setting.platform ?? {});
          if (!platform.ok) throw new Error(platform.error.message);
          const decision = evaluate(compiled?.ok ? compiled.policy : undefined, platform.platform, toFlow(c.flow), toContext(setting));
          expect({ action: decision.action, reason: decision.reason, phase: decision.phase, rule: decision.matchedRule }).toEqual({
            action: c.expect.action,
            reason: c.expect.reason,
            phase: c.expect.phase,
            rule: c.expect.rule,
          });
          seenReasons.add(decision.reason);
        });
      }
    });
  }

  it('expects every reason code the evaluator can produce', () => {
    // server_first_probe is a classifier-side outcome the evaluator never returns (not an UnknownReason).
    const producible = reasonCodes.filter((r) => r !== 'server_first_probe');
    const expected = new Set(allCases.flatMap((c) => (c.expect ? [c.expect.reason] : [])));
    expect(producible.filter((r) => !expected.has(r))).toEqual([]);
  });
});
