import type { AddressInfo, ListenOptions, Server } from 'node:net';

/**
 * Listens, and resolves with the bound address once the server listens. A listen error (EADDRINUSE,
 * EACCES, …) rejects instead of reaching a server with no 'error' listener; the listener is removed
 * once listening, so errors after that go to the caller's own handlers (as before every copy did).
 */
export function listen(server: Server, options: ListenOptions): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}
