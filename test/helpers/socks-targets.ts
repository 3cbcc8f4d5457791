import net, { type AddressInfo, type Server, type Socket } from 'node:net';

/** Loopback destinations for relay tests. */
export interface Target {
  port: number;
  server: Server;
  stop(): Promise<void>;
}

async function listen(server: Server, host: string): Promise<Target> {
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: 0 }, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    server,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Echoes every byte back. */
export function startEchoServer(host = '127.0.0.1'): Promise<Target> {
  return listen(net.createServer((s) => s.pipe(s)), host);
}

/** Answers any request with an HTTP 200 whose body is `bodyBytes` bytes of 'x', then closes. */
export function startHttpBlobServer(bodyBytes: number, host = '127.0.0.1'): Promise<Target> {
  const body = Buffer.alloc(bodyBytes, 'x');
  return listen(
    net.createServer((s) => {
      s.once('data', () => {
        s.write(`HTTP/1.1 200 OK\r\ncontent-length: ${bodyBytes}\r\nconnection: close\r\n\r\n`);
        s.end(body);
      });
    }),
    host,
  );
}
