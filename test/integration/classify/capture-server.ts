/**
 * A loopback listener that runs peekAndClassify on every accepted connection and hands the results
 * to the test in order. Binds 127.0.0.1:0; `close()` destroys every socket it accepted.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { peekAndClassify, type PeekOptions, type PeekResult } from '../../../src/gateway/peek.js';

export interface Capture extends PeekResult {
  socket: Socket;
}

export interface CaptureServer {
  port: number;
  /** The next connection's classification, in accept order. */
  next(): Promise<Capture>;
  close(): Promise<void>;
}

export async function startCaptureServer(options: PeekOptions = {}): Promise<CaptureServer> {
  const sockets = new Set<Socket>();
  const results: Promise<Capture>[] = [];
  const waiters: ((c: Promise<Capture>) => void)[] = [];
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {}); // clients are killed mid-handshake on purpose
    socket.on('close', () => sockets.delete(socket));
    const capture = peekAndClassify(socket, options).then((r) => ({ ...r, socket }));
    const waiter = waiters.shift();
    if (waiter) waiter(capture);
    else results.push(capture);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    next: () => {
      const ready = results.shift();
      return ready ?? new Promise<Capture>((resolve) => waiters.push((c) => resolve(c)));
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}
