/**
 * The gateway namespace's nftables ruleset (the only rules we install anywhere):
 *  - TCP/UDP port 53 to one of the gateway's own addresses reaches the sandbox resolver;
 *  - every other sandbox TCP flow is redirected to the TCP listener, every UDP flow to the UDP
 *    listener (the redirect happens before routing, so nothing is forwarded);
 *  - forwarding is dropped and counted, and so is any packet the namespace would send out of an
 *    interface other than loopback and the sandbox links (there is none: the counters prove it).
 */
export interface GatewayRulesetOptions {
  table: string;
  sandboxInterfaces: string;
  tcpPort: number;
  udpPort: number;
  dnsPort: number;
}

export const gatewayTable = 'see';

export function gatewayRuleset({ table, sandboxInterfaces, tcpPort, udpPort, dnsPort }: GatewayRulesetOptions): string {
  const iif = `iifname "${sandboxInterfaces}"`;
  return [
    `table ip ${table} {`,
    `  chain prerouting {`,
    `    type nat hook prerouting priority dstnat; policy accept;`,
    `    ${iif} fib daddr type local meta l4proto { tcp, udp } th dport ${dnsPort} counter accept comment "sandbox resolver"`,
    `    ${iif} meta l4proto tcp counter redirect to :${tcpPort} comment "tcp listener"`,
    `    ${iif} meta l4proto udp counter redirect to :${udpPort} comment "udp listener"`,
    `  }`,
    `  chain forward {`,
    `    type filter hook forward priority filter; policy drop;`,
    `    counter drop comment "never forward"`,
    `  }`,
    `  chain output {`,
    `    type filter hook output priority filter; policy accept;`,
    `    oifname != "lo" oifname != "${sandboxInterfaces}" counter drop comment "no way out"`,
    `  }`,
    `}`,
    '',
  ].join('\n');
}
