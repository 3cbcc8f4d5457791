// The soak's latency prober: a process that does nothing but time proxied HTTP flows through a
// sandbox's ingress and, at the same moment, the direct loopback baseline. The soak's own process
// runs hundreds of flows, TLS handshakes, API calls and checks, and its event loop was measured
// running up to ~45 ms late: a flow timed there carries the soak's stalls, not the emulator's. Here
// the timing loop is otherwise idle. Parent protocol (bench/lib/ipc-child.mjs): {ready} once up, then
// {id, op: 'probe', args: {ingress, via, servicePort, timeoutMs}} → {id, result: {flow, baselineMs}}.
import { baselineFlow, tcpFlow } from './soak.mjs';

process.on('message', async (msg) => {
  const { id, op, args } = msg ?? {};
  try {
    let result;
    if (op === 'probe') {
      const baseline = baselineFlow(args.servicePort, args.timeoutMs);
      const flow = await tcpFlow(args.ingress, args.via, { timeoutMs: args.timeoutMs });
      result = { flow, baselineMs: await baseline };
    } else if (op === 'stop') {
      process.send({ id, result: true }, () => process.exit(0));
      return;
    } else throw new Error(`unknown op ${op}`);
    process.send({ id, result });
  } catch (err) {
    process.send({ id, error: err instanceof Error ? err.message : String(err) });
  }
});
// The parent going away ends the prober too.
process.on('disconnect', () => process.exit(0));
process.send({ ready: true });
