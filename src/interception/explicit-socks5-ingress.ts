import type net from 'node:net';
import { Socks5Command, Socks5Method, Socks5Reply } from '../socks5/protocol.js';
import { serveSocks5Handshake } from '../socks5/server-handshake.js';
import type { ExplicitIngressDeps } from './explicit.js';

/**
 * One connection to the explicit SOCKS5 port (no auth): CONNECT to a name the sandbox resolves becomes
 * a TCP flow with the bytes after the handshake; UDP ASSOCIATE keeps the control connection open.
 */
export function serveSocks5Ingress(socket: net.Socket, deps: ExplicitIngressDeps, handshakeTimeoutMs: number): void {
  const { sandboxId } = deps;
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
}
