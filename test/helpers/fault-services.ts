import { execa, type ResultPromise } from 'execa';
import net, { type AddressInfo, type Socket } from 'node:net';
import { assertBuilt, binPath, waitForOutput } from './bin.js';

/**
 * Customer-side services and sandbox-side clients for the fault tests: a bulk HTTP download that can
 * reset itself mid-stream, a reader that reports how a download ended, and the test proxy as its own
 * process (so it can be SIGKILLed like a real one).
 */

export interface BulkService {
  readonly port: number;
  /** Body bytes written to each connection so far (in accept order). */
  readonly sent: number[];
  /** Resets (RST) every open connection. */
  resetAll(): void;
  stop(): Promise<void>;
}

export interface BulkServiceOptions {
  /** Body size of every download. */
  totalBytes: number;
  /**
   * Stop writing (without closing) after this many body bytes, so a test can reset the connection once
   * the reader has everything: an RST that reaches a socket with unread bytes queued surfaces on Linux
   * as a plain end of stream, not as ECONNRESET.
   */
  holdAfterBytes?: number;
}

/** What the bulk service sends before the body. */
export const bulkResponseHead = 'HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\nconnection: close\r\n\r\n';

const chunk = Buffer.alloc(64 * 1024, 'x');

/**
 * An HTTP/1.1 server on loopback that answers any request with `totalBytes` of body, written with
 * backpressure (so a slow or dead reader stops it), without a content-length: only the close ends it.
 */
export async function startBulkService({ totalBytes, holdAfterBytes }: BulkServiceOptions): Promise<BulkService> {
  const sockets = new Set<Socket>();
  const sent: number[] = [];
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const index = sent.push(0) - 1;
    let head = '';
    const onData = (d: Buffer): void => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      socket.resume();
      socket.write(bulkResponseHead);
      const limit = Math.min(holdAfterBytes ?? totalBytes, totalBytes);
      const pump = (): void => {
        while (sent[index]! < limit && !socket.destroyed) {
          const n = Math.min(chunk.length, limit - sent[index]!);
          sent[index]! += n;
          if (!socket.write(chunk.subarray(0, n))) {
            socket.once('drain', pump);
            return;
          }
        }
        if (!socket.destroyed && holdAfterBytes === undefined) socket.end();
      };
      pump();
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    sent,
    resetAll() {
      for (const s of sockets) s.resetAndDestroy();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface DownloadEnd {
  /** Body and header bytes received. */
  received: number;
  /** `fin`: a clean end of stream; `reset`: ECONNRESET (or another socket error, named in `error`). */
  end: 'fin' | 'reset';
  error?: string;
}

/**
 * Sends an HTTP GET for `host` on `socket` and reads until the connection ends; `onProgress` sees the
 * running byte count (a test kills something once enough has arrived).
 */
export function download(socket: Socket, host: string, onProgress: (received: number) => void = () => {}): Promise<DownloadEnd> {
  return new Promise((resolve) => {
    let received = 0;
    let error: string | undefined;
    socket.on('data', (d: Buffer) => {
      received += d.length;
      onProgress(received);
    });
    socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    socket.on('close', () => resolve({ received, end: error ? 'reset' : 'fin', ...(error ? { error } : {}) }));
    socket.write(`GET /bulk HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  });
}

export interface ProxyProcess {
  readonly child: ResultPromise;
  /** `127.0.0.1:port` */
  readonly address: string;
  readonly port: number;
}

/** `sandbox-egress-emulator proxy serve` (the built bin) on a free loopback port, with customer DNS records. */
export async function startProxyProcess(maps: Record<string, string>): Promise<ProxyProcess> {
  assertBuilt();
  const args = [binPath, 'proxy', 'serve', '--port', '0', ...Object.entries(maps).flatMap(([k, v]) => ['--map', `${k}=${v}`])];
  const child = execa('node', args, { reject: false, stderr: 'ignore' });
  try {
    const out = await waitForOutput(child, '\n', 15_000);
    const m = /listening on (127\.0\.0\.1):(\d+)/.exec(out);
    if (!m) throw new Error(`unexpected proxy serve output: ${out}`);
    return { child, address: `${m[1]}:${m[2]}`, port: Number(m[2]) };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}
