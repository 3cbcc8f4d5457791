import net from 'node:net';
import { formatHostPort } from '../net/host-port.js';
import type { TcpFlowInput } from '../gateway/flow.js';
import type { Logger } from '../log.js';
import { listen } from '../net/listen.js';
import { serveHttpIngress } from './explicit-http-ingress.js';
import { serveSocks5Ingress } from './explicit-socks5-ingress.js';

/**
 * Explicit interception (anywhere, no privileges): a sandbox's programs reach the gateway through a
 * loopback port that speaks SOCKS5 (no auth) and another that speaks HTTP CONNECT. A hostname target
 * is resolved as the sandbox's resolver would (hosts entries, then the platform DNS view); an
 * unresolvable one never becomes a flow (the documented pitfall). Less faithful than transparent mode:
 * only programs that honour proxy settings are captured.
 */
export interface ExplicitIngressDeps {
  sandboxId: string;
  /**
   * Sandbox-side resolution; IP literals resolve to themselves. undefined: NXDOMAIN. A promise when the
   * answer must be waited for (the host's resolver, with platform DNS passthrough).
   */
  resolve: (host: string) => string | undefined | Promise<string | undefined>;
  onTcpFlow: (input: TcpFlowInput) => void;
  /** A flow that could not start because the sandbox cannot resolve its host. */
  onUnresolvable: (host: string, port: number, ingress: 'socks5' | 'http-connect') => void;
  /** SOCKS5 UDP ASSOCIATE; absent: answered with 0x07 command not supported. */
  onUdpAssociate?: (control: net.Socket) => Promise<{ host: string; port: number } | undefined>;
  logger: Logger;
  host?: string;
  handshakeTimeoutMs?: number;
}

export interface ExplicitIngress {
  /** `127.0.0.1:P` speaking SOCKS5. */
  readonly socks5: string;
  /** `127.0.0.1:P` speaking HTTP CONNECT (and absolute-form http:// requests). */
  readonly httpConnect: string;
  /** Both ports are listening. */
  healthy(): boolean;
  stop(): Promise<void>;
}

async function listenOnFreePort(server: net.Server, host: string): Promise<string> {
  const a = await listen(server, { host, port: 0 });
  return formatHostPort({ host: a.address, port: a.port });
}

export async function startExplicitIngress(deps: ExplicitIngressDeps): Promise<ExplicitIngress> {
  const { sandboxId, logger, host = '127.0.0.1', handshakeTimeoutMs = 10_000 } = deps;
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    s.on('error', () => {});
  };

  // Half-open connections stay open: a client's FIN (end of its request) is passed on while the answer comes back.
  const socksServer = net.createServer({ allowHalfOpen: true }, (socket) => {
    track(socket);
    serveSocks5Ingress(socket, deps, handshakeTimeoutMs);
  });
  const httpServer = net.createServer({ allowHalfOpen: true }, (socket) => {
    track(socket);
    serveHttpIngress(socket, deps, handshakeTimeoutMs);
  });

  const socks5 = await listenOnFreePort(socksServer, host);
  let httpConnect: string;
  try {
    httpConnect = await listenOnFreePort(httpServer, host);
  } catch (err) {
    socksServer.close();
    throw err;
  }
  logger.debug({ sandboxId, socks5, httpConnect }, 'explicit ingress listening');

  return {
    socks5,
    httpConnect,
    healthy: () => socksServer.listening && httpServer.listening,
    async stop() {
      for (const s of sockets) s.destroy();
      await Promise.all([new Promise((r) => socksServer.close(r)), new Promise((r) => httpServer.close(r))]);
    },
  };
}
