// @ts-check
// The soak's latency prober: a process that does nothing but time proxied HTTP flows through a
// sandbox's ingress and, at the same moment, the direct loopback baseline. The soak's own process
// runs hundreds of flows, TLS handshakes, API calls and checks, and its event loop was measured
// running up to ~45 ms late: a flow timed there carries the soak's stalls, not the emulator's. Here
// the timing loop is otherwise idle. Parent protocol (bench/lib/ipc-child.mjs): {ready} once up, then
// {id, op: 'probe', args: {ingress, via, servicePort, timeoutMs}} → {id, result: {flow, baselineMs}}.
import { answerParent } from './ipc-child.mjs';
import { baselineFlow, tcpFlow } from './soak.mjs';

answerParent({
  probe: async ({ ingress, via, servicePort, timeoutMs }) => {
    const baseline = baselineFlow(servicePort, timeoutMs);
    const flow = await tcpFlow(ingress, via, { timeoutMs });
    return { flow, baselineMs: await baseline };
  },
});
process.send?.({ ready: true });
