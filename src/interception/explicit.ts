import net from 'node:net';
import { formatEndpoint } from '../dns/views.js';
import type { TcpFlowInput } from '../gateway/flow.js';
import type { Logger } from '../log.js';
import { listen } from '../net/listen.js';
import { Socks5Command, Socks5Method, Socks5Reply } from '../socks5/protocol.js';
import { endAndLinger, serveSocks5Handshake } from '../socks5/server-handshake.js';
import { maxProxyHeadBytes, parseHttpProxyRequest, type HttpProxyRequest } from './http-proxy-request.js';

type HttpProxyTarget = Extract<HttpProxyRequest, { kind: 'connect' | 'forward' }>;

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
  return formatEndpoint({ host: a.address, port: a.port });
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
    let resolved: { ip: string; port: number } | undefined;
    void serveSocks5Handshake(
      socket,
      {
        selectMethod: (offered) => ({ kind: 'method', method: offered.includes(Socks5Method.NoAuth) ? Socks5Method.NoAuth : Socks5Method.NoAcceptable }),
        request: async (req) => {
          if (req.command === Socks5Command.UdpAssociate && deps.onUdpAssociate) {
            const bound = await deps.onUdpAssociate(socket);
            return bound ? { kind: 'reply', code: Socks5Reply.Succeeded, bound: { atyp: 'ipv4', host: bound.host, port: bound.port } } : { kind: 'reply', code: Socks5Reply.GeneralFailure };
          }
          if (req.command !== Socks5Command.Connect) return { kind: 'reply', code: Socks5Reply.CommandNotSupported };
          const ip = await deps.resolve(req.address.host);
          if (!ip) {
            deps.onUnresolvable(req.address.host, req.address.port, 'socks5');
            return { kind: 'reply', code: Socks5Reply.HostUnreachable };
          }
          resolved = { ip, port: req.address.port };
          return { kind: 'reply', code: Socks5Reply.Succeeded };
        },
      },
      { handshakeTimeoutMs },
    ).then((outcome) => {
      if (outcome.kind !== 'established' || !resolved) return;
      if (outcome.state.request.command === Socks5Command.UdpAssociate) return; // the control connection just stays open
      deps.onTcpFlow({ sandboxId, originalDst: resolved, socket, initialBytes: outcome.rest });
    });
  });

  const httpServer = net.createServer({ allowHalfOpen: true }, (socket) => {
    track(socket);
    let head = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), handshakeTimeoutMs);
    // A client that closes its side before its request head is complete gets nothing more.
    const onEnd = () => {
      clearTimeout(timer);
      socket.destroy();
    };
    const reject = (status: number, message: string) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      const body = `${message}\n`;
      endAndLinger(socket, `HTTP/1.1 ${status} ${status === 502 ? 'Bad Gateway' : status === 405 ? 'Method Not Allowed' : status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    };
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      if (head.length > maxProxyHeadBytes * 2) return reject(431, 'request head too large');
      const req = parseHttpProxyRequest(head);
      if (req.kind === 'need-more') return;
      if (req.kind === 'invalid') return reject(req.status, req.message);
      const found = deps.resolve(req.host);
      if (!(found instanceof Promise)) return proceed(req, found);
      // The answer takes a while (the host's resolver): the request head is complete, so nothing more
      // is read until it is here; the handshake timer still runs.
      socket.off('data', onData);
      socket.pause();
      found.then(
        (ip) => proceed(req, ip),
        () => proceed(req, undefined),
      );
    };
    const proceed = (req: HttpProxyTarget, ip: string | undefined) => {
      if (socket.destroyed) return;
      if (!ip) {
        deps.onUnresolvable(req.host, req.port, 'http-connect');
        return reject(502, `sandbox-egress-emulator: ${req.host} does not resolve inside the sandbox, so no connection was opened`);
      }
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.pause();
      if (req.kind === 'connect') {
        const rest = head.subarray(req.headLength);
        socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
        deps.onTcpFlow({ sandboxId, originalDst: { ip, port: req.port }, socket, initialBytes: rest });
      } else {
        deps.onTcpFlow({ sandboxId, originalDst: { ip, port: req.port }, socket, initialBytes: head });
      }
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
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
