import type { Gateway } from '../gateway/gateway.js';
import type { NamespaceBackend } from './namespace-backend.js';

const unmapped = (address: string): string => address.replace(/^::ffff:/, '');

/**
 * Transparent mode: every redirected connection and datagram of every sandbox arrives at the backend's
 * listeners; each goes to the gateway as the flow of the sandbox that owns its source address.
 */
export function dispatchTransparent(backend: NamespaceBackend, gateway: Gateway): void {
  backend.tcpServer.on('connection', (socket) => {
    socket.on('error', () => {});
    const sourceIp = socket.remoteAddress ? unmapped(socket.remoteAddress) : '';
    const sandboxId = backend.sandboxForAddress(sourceIp);
    if (!sandboxId) return void socket.destroy();
    void backend
      .originalDestination(socket)
      .catch(() => undefined)
      .then((originalDst) => gateway.handleTcp({ sandboxId, sourceIp, originalDst, socket }));
  });
  backend.udpSocket.on('message', (payload, rinfo) => {
    const sourceIp = unmapped(rinfo.address);
    const sandboxId = backend.sandboxForAddress(sourceIp);
    if (!sandboxId) return;
    void backend
      .originalDestinationForDatagram(rinfo)
      .catch(() => undefined)
      .then((originalDst) =>
        gateway.udp.handle({
          sandboxId,
          sourceIp,
          source: `${sourceIp}:${rinfo.port}`,
          originalDst,
          payload,
          reply: (data) => backend.udpSocket.send(data, rinfo.port, rinfo.address),
        }),
      );
  });
}
