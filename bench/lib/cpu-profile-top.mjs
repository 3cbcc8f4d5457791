// The top self-time costs of a V8 CPU profile (a `--cpu-prof` .cpuprofile file), for the before/after
// flame summaries of the gateway's CPU per connection (GATEWAY_BENCH_CPU_PROF writes the profile).
// Usage: node bench/lib/cpu-profile-top.mjs <file.cpuprofile> [count=10] [--by=function|file]
import { readFileSync } from 'node:fs';

/** Self time in ms per function (name, file, line) or per file, idle excluded; sorted, biggest first. */
export function selfTimes(profile, by = 'function') {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  // timeDeltas[i] is the time before sample i: it is charged to the sample's node.
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const groups = new Map();
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    if (functionName === '(idle)') continue;
    totalUs += us;
    const file = url ? url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/').replace(/^node:/, 'node:') : '';
    const key = by === 'file' ? file || functionName : `${functionName || '(anonymous)'} ${file}${url ? `:${lineNumber + 1}` : ''}`;
    groups.set(key, (groups.get(key) ?? 0) + us);
  }
  const rows = [...groups].map(([key, us]) => ({ key, ms: us / 1000, share: us / totalUs })).sort((a, b) => b.ms - a.ms);
  return { rows, totalMs: totalUs / 1000 };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, count = '10', ...rest] = process.argv.slice(2);
  const by = rest.find((a) => a.startsWith('--by='))?.slice(5) ?? 'function';
  const { rows, totalMs } = selfTimes(JSON.parse(readFileSync(file, 'utf8')), by);
  console.log(`busy ${totalMs.toFixed(0)} ms (idle excluded); top ${count} by self time (${by}):`);
  for (const r of rows.slice(0, Number(count))) console.log(`${r.ms.toFixed(0).padStart(8)} ms ${(r.share * 100).toFixed(1).padStart(5)}%  ${r.key}`);
}
