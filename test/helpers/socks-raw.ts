import net, { type Socket } from 'node:net';

/**
 * A raw TCP client for SOCKS5 tests: send exact bytes, read what comes back chunk by chunk, and see how
 * the server ended the connection (FIN, RST, or still open at a deadline).
 */
export interface RawClient {
  socket: Socket;
  /** Every chunk received so far, in order. */
  chunks: Buffer[];
  received(): Buffer;
  send(bytes: Uint8Array | number[]): void;
  /** Resolves once at least `n` bytes arrived in total (or rejects on close/timeout). */
  readBytes(n: number, timeoutMs?: number): Promise<Buffer>;
  /** How the connection ended: `fin`, `reset`, or `open` if still open after `timeoutMs`. */
  ended(timeoutMs?: number): Promise<'fin' | 'reset' | 'open'>;
  close(): void;
}

export function rawConnect(port: number, host = '127.0.0.1'): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, noDelay: true });
    const chunks: Buffer[] = [];
    let end: 'fin' | 'reset' | undefined;
    const waiters = new Set<() => void>();
    const wake = (): void => {
      for (const w of [...waiters]) w();
    };
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      wake();
    });
    socket.on('end', () => {
      end ??= 'fin';
      wake();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      end = err.code === 'ECONNRESET' ? 'reset' : (end ?? 'reset');
      wake();
    });
    socket.on('close', () => {
      end ??= 'fin';
      wake();
    });
    const total = (): number => chunks.reduce((n, c) => n + c.length, 0);
    const client: RawClient = {
      socket,
      chunks,
      received: () => Buffer.concat(chunks),
      send: (bytes) => {
        socket.write(Buffer.from(bytes));
      },
      readBytes: (n, timeoutMs = 5000) =>
        new Promise((res, rej) => {
          const check = (): void => {
            if (total() >= n) {
              done();
              res(Buffer.concat(chunks));
            } else if (end) {
              done();
              rej(new Error(`connection ended (${end}) after ${total()} of ${n} bytes`));
            }
          };
          const timer = setTimeout(() => {
            done();
            rej(new Error(`timed out after ${total()} of ${n} bytes`));
          }, timeoutMs);
          const done = (): void => {
            clearTimeout(timer);
            waiters.delete(check);
          };
          waiters.add(check);
          check();
        }),
      ended: (timeoutMs = 5000) =>
        new Promise((res) => {
          const check = (): void => {
            if (end) {
              done();
              res(end);
            }
          };
          const timer = setTimeout(() => {
            done();
            res('open');
          }, timeoutMs);
          const done = (): void => {
            clearTimeout(timer);
            waiters.delete(check);
          };
          waiters.add(check);
          check();
        }),
      close: () => socket.destroy(),
    };
    socket.once('connect', () => resolve(client));
    socket.once('error', reject);
  });
}

/** Bytes of a greeting + RFC 1929 auth + CONNECT to a domain, as a well-behaved client sends them. */
export function greetingBytes(methods: number[]): Buffer {
  return Buffer.from([0x05, methods.length, ...methods]);
}

export function authBytes(user: string, pass: string): Buffer {
  const u = Buffer.from(user);
  const p = Buffer.from(pass);
  return Buffer.concat([Buffer.from([0x01, u.length]), u, Buffer.from([p.length]), p]);
}

export function connectDomainBytes(host: string, port: number): Buffer {
  const h = Buffer.from(host);
  return Buffer.concat([Buffer.from([0x05, 0x01, 0x00, 0x03, h.length]), h, Buffer.from([port >> 8, port & 0xff])]);
}

/** Re-checks `probe` on each event-loop turn until it returns a value (bounded by `timeoutMs`). */
export async function until<T>(probe: () => T | undefined, timeoutMs = 2000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
