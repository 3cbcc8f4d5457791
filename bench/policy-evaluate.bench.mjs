// @ts-check
// Policy evaluation throughput: decisions/s with 50 rules and with 10,000 domain patterns, their
// ratio (does domain matching scale?), and a baseline measured in the same run: the same 10,000
// patterns matched by a linear scan, as an unindexed evaluator would. Imports the built code (dist/).
import { compilePolicy } from '../dist/policy/compile.js';
import { compilePlatform } from '../dist/policy/platform.js';
import { evaluate } from '../dist/policy/evaluate.js';
import { median, runsFrom, spread, verdict } from './lib/stats.mjs';

/** @typedef {import('../dist/policy/evaluate.js').FlowFacts} FlowFacts */

const TARGET_50_RULES = 1_000_000;
const TARGET_10K_DOMAINS = 300_000;
// Each figure is the median of RUNS runs (min–max shown), the three series interleaved. Env:
// POLICY_BENCH_RUNS (default 5, at least 5), POLICY_BENCH_MS (time budget per run, default 500 ms).
const RUNS = runsFrom(process.env.POLICY_BENCH_RUNS);
const MEASURE_MS = Math.max(50, Number(process.env.POLICY_BENCH_MS ?? 500));
const WARMUP_CALLS = 200_000;
const WARMUP_MS = 2_000;
const MAX_ITERATIONS = 50_000_000;

function must(result) {
  if (!result.ok) throw new Error(result.error.message);
  return result.policy ?? result.platform;
}

// The platform of a real cluster: DNS and platform service names are always allowed domains, so
// domain rules always exist and every flow with a host is verified.
const platform = must(
  compilePlatform({
    allowedCidrs: ['198.19.0.0/24'],
    allowedDomains: ['kube-dns', 'kube-dns.kube-system', 'kube-dns.kube-system.svc', 'kube-dns.kube-system.svc.cluster.local'],
  }),
);

const resolved = new Map();
const ctx = {
  otherSandboxIps: new Set(['198.18.250.1', '198.18.250.2', '198.18.250.3']),
  verifyHost: (host) => resolved.get(host) ?? { ok: false },
};

/**
 * @param {string} destIp
 * @param {string} host
 * @returns {FlowFacts & { classification: { host: string } }}
 */
function tlsFlow(destIp, host, destPort = 443) {
  resolved.set(host, { ok: true, addresses: [destIp] });
  return { destIp, destPort, transport: 'tcp', classification: { kind: 'known', appProtocol: 'tls', host } };
}

// 50 mixed rules, block-all: CIDR, port, domain and protocol matchers, the common shapes of real policies.
function fiftyRulePolicy() {
  const rules = [];
  for (let i = 0; i < 50; i++) {
    switch (i % 5) {
      case 0:
        rules.push({ name: `svc-${i}`, action: 'allow', domains: [`svc${i}.internal.example.com`], ports: [{ port: 443 }], appProtocols: ['tls'] });
        break;
      case 1:
        rules.push({ name: `wild-${i}`, action: 'allow', domains: [`*.team${i}.example.com`] });
        break;
      case 2:
        rules.push({ name: `net-${i}`, action: 'allow', cidrs: [`198.18.${i}.0/24`], ports: [{ port: 5432 }, { port: 6379 }] });
        break;
      case 3:
        rules.push({ name: `deny-${i}`, action: 'deny', domains: [`blocked${i}.example.org`] });
        break;
      default:
        rules.push({ name: `ssh-${i}`, action: 'allow', cidrs: [`198.18.${i}.0/24`], appProtocols: ['ssh'] });
    }
  }
  return must(compilePolicy({ mode: 'block-all', egress: { trafficRules: rules } }));
}

function fiftyRuleFlows() {
  /** @type {FlowFacts[]} */
  const flows = [];
  for (let i = 0; i < 50; i += 5) {
    flows.push(tlsFlow(`198.18.100.${i}`, `svc${i}.internal.example.com`));
    flows.push(tlsFlow(`198.18.101.${i}`, `api.team${i + 1}.example.com`));
    flows.push({ destIp: `198.18.${i + 2}.9`, destPort: 5432, transport: 'tcp', classification: { kind: 'unknown', reason: 'client_idle' } });
    flows.push(tlsFlow(`198.18.102.${i}`, `blocked${i + 3}.example.org`));
    flows.push({ destIp: `198.18.${i + 4}.7`, destPort: 22, transport: 'tcp', classification: { kind: 'known', appProtocol: 'ssh' } });
    flows.push(tlsFlow(`198.18.103.${i}`, `nowhere${i}.example.net`)); // no rule: block-all default
  }
  return flows;
}

// 10,000 domain patterns, one deny rule each, in allow-all: a blocklist, the worst case for a
// rule-by-rule scan (every allowed flow has to look at every rule).
const DOMAIN_COUNT = 10_000;
function domainPatterns() {
  const patterns = [];
  for (let i = 0; i < DOMAIN_COUNT; i++) patterns.push(i % 2 === 0 ? `*.ads${i}.example.com` : `tracker${i}.example.net`);
  return patterns;
}
function tenThousandPolicy(patterns) {
  const rules = patterns.map((domain, i) => ({ name: `block-${i}`, action: 'deny', domains: [domain] }));
  return must(compilePolicy({ mode: 'allow-all', egress: { trafficRules: rules } }));
}
function tenThousandFlows() {
  const flows = [];
  for (let i = 0; i < 64; i++) {
    if (i % 4 === 0) flows.push(tlsFlow(`198.18.110.${i}`, `cdn.ads${i * 150}.example.com`)); // denied by a wildcard
    else if (i % 4 === 1) flows.push(tlsFlow(`198.18.111.${i}`, `tracker${i * 150 + 1}.example.net`)); // denied exactly
    else flows.push(tlsFlow(`198.18.112.${i}`, `www.site${i}.example.com`)); // allowed: no pattern matches
  }
  return flows;
}

let sink = 0;

/** JIT warm-up: WARMUP_CALLS calls or WARMUP_MS, whichever comes first. */
function warm(fn) {
  const deadline = performance.now() + WARMUP_MS;
  for (let i = 0; i < WARMUP_CALLS; i += 1_000) {
    for (let j = 0; j < 1_000; j++) sink += fn(i + j);
    if (performance.now() >= deadline) break;
  }
}

/** One run: `fn(i)` in batches until MEASURE_MS elapsed (or MAX_ITERATIONS); returns calls per second. */
function measure(fn) {
  globalThis.gc?.();
  let iterations = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(MEASURE_MS) * 1_000_000n;
  const BATCH = 1_000;
  while (iterations < MAX_ITERATIONS) {
    for (let i = 0; i < BATCH; i++) sink += fn(iterations + i);
    iterations += BATCH;
    if (process.hrtime.bigint() >= deadline) break;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return iterations / seconds;
}

const fmt = (n) => Math.round(n).toLocaleString('en-US');

const policy50 = fiftyRulePolicy();
const flows50 = fiftyRuleFlows();
const patterns = domainPatterns();
const policy10k = tenThousandPolicy(patterns);
const flows10k = tenThousandFlows();

const eval50 = (i) => evaluate(policy50, platform, flows50[i % flows50.length], ctx).reason.length;
const eval10k = (i) => evaluate(policy10k, platform, flows10k[i % flows10k.length], ctx).reason.length;

// Baseline: first-match over the same 10,000 patterns by linear scan (the unindexed approach).
const compiledPatterns = policy10k.trafficRules.map((r) => r.domains[0]);
function linearFirstMatch(host) {
  for (let i = 0; i < compiledPatterns.length; i++) {
    const p = compiledPatterns[i];
    if (host === p.pattern || (p.kind === 'suffix' && host.endsWith('.' + p.pattern))) return i;
  }
  return -1;
}
const hosts10k = flows10k.map((f) => f.classification.host);
const linear = (i) => linearFirstMatch(hosts10k[i % hosts10k.length]);

for (const fn of [eval50, eval10k, linear]) warm(fn);
const runs50 = [];
const runs10k = [];
const runsLinear = [];
for (let r = 0; r < RUNS; r++) {
  runs50.push(measure(eval50));
  runs10k.push(measure(eval10k));
  runsLinear.push(measure(linear));
}
if (sink === -1) console.log('unreachable'); // keeps the results alive
const rate50 = median(runs50);
const rate10k = median(runs10k);
const rateLinear = median(runsLinear);
const perSec = (x) => `${fmt(x)}/s`;

console.log(`${RUNS} runs of ${MEASURE_MS} ms per figure, interleaved`);
console.log(`policy evaluate, 50 rules (block-all, mixed matchers): ${fmt(rate50)} decisions/s (target >= ${fmt(TARGET_50_RULES)}) ${rate50 >= TARGET_50_RULES ? 'OK' : 'BELOW TARGET'}`);
console.log(`  ${spread(runs50, perSec)}`);
console.log(`policy evaluate, ${fmt(DOMAIN_COUNT)} domain patterns (allow-all blocklist): ${fmt(rate10k)} decisions/s (target >= ${fmt(TARGET_10K_DOMAINS)}) ${rate10k >= TARGET_10K_DOMAINS ? 'OK' : 'BELOW TARGET'}`);
console.log(`  ${spread(runs10k, perSec)}`);
console.log(`ratio 10,000 patterns / 50 rules: ${(rate10k / rate50).toFixed(2)} (near 1 means matching does not slow with the pattern count)`);
console.log(`baseline, linear scan of the same ${fmt(DOMAIN_COUNT)} patterns (match only, no decision): ${fmt(rateLinear)} lookups/s; indexed evaluate is ${(rate10k / rateLinear).toFixed(1)}x faster`);
console.log(`  ${spread(runsLinear, perSec)}`);
// The 50-rule figure's baseline is the 10,000-pattern one (the bench's question: does matching slow
// with the pattern count?); the 10,000-pattern figure's is the linear scan.
verdict(`policy evaluate, 50 rules ≥ ${fmt(TARGET_50_RULES)}/s`, rate50 >= TARGET_50_RULES, `median ${perSec(rate50)}; 10,000 patterns / 50 rules ${(rate10k / rate50).toFixed(2)}`, {
  figure: 'policy evaluate, 50 rules (block-all, mixed matchers)',
  samples: runs50,
  unit: '/s',
  baseline: { name: `evaluate with ${fmt(DOMAIN_COUNT)} domain patterns, same run`, samples: runs10k },
  target: `≥ ${fmt(TARGET_50_RULES)}/s`,
});
verdict(`policy evaluate, ${fmt(DOMAIN_COUNT)} domain patterns ≥ ${fmt(TARGET_10K_DOMAINS)}/s`, rate10k >= TARGET_10K_DOMAINS, `median ${perSec(rate10k)}; ${(rate10k / rateLinear).toFixed(1)}x a linear scan`, {
  figure: `policy evaluate, ${fmt(DOMAIN_COUNT)} domain patterns (allow-all blocklist)`,
  samples: runs10k,
  unit: '/s',
  baseline: { name: `linear scan of the same ${fmt(DOMAIN_COUNT)} patterns (match only)`, samples: runsLinear },
  target: `≥ ${fmt(TARGET_10K_DOMAINS)}/s`,
});
