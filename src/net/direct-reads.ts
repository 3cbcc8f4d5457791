/**
 * Reads a socket into one reusable buffer of its own (Node's `onread`) instead of a fresh 64 KiB
 * allocation per read: fewer syscalls with a bigger buffer, and no garbage. Pages are only resident
 * once touched, so idle connections stay cheap. Until a consumer attaches, bytes (a server-first
 * banner) are copied aside.
 *
 * Create the socket with `net.connect({ ..., onread: reads.onread })`; such a socket emits no `data`
 * events of its own (a library that listens for them can be bridged with `attach(emitData(socket))`).
 */
/**
 * First read buffer of a connection: small enough to come from Node's shared buffer pool (under 4
 * KiB), so an idle or chatty connection costs 2 KiB rather than a page-backed allocation of its own.
 */
const initialReadBytes = 2 * 1024;

export class DirectReads {
  private sink: ((view: Buffer) => boolean) | undefined;
  private early: Buffer[] = [];
  private earlyBytes = 0;
  private buffer: Buffer;
  readonly onread: { buffer: () => Buffer; callback: (n: number, buf: Uint8Array) => boolean };

  /**
   * Reads start into a small buffer (most connections carry little: no big allocation per
   * connection); the first read that fills it switches the socket to one of `bytes` for good.
   */
  constructor(
    readonly bytes: number,
    initialBytes = Math.min(bytes, initialReadBytes),
  ) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
    this.onread = {
      // Node asks for the buffer of the next read after each read.
      buffer: () => this.buffer,
      callback: (n, buf) => {
        if (n === buf.byteLength && buf.byteLength < bytes) this.buffer = Buffer.allocUnsafe(bytes);
        return this.deliver(Buffer.from(buf.buffer, buf.byteOffset, n));
      },
    };
  }

  private deliver(view: Buffer): boolean {
    if (this.sink) return this.sink(view);
    this.early.push(Buffer.from(view));
    this.earlyBytes += view.length;
    // Stop reading once a good amount waits; the consumer resumes the socket when it attaches.
    return this.earlyBytes < this.bytes;
  }

  /**
   * Installs the consumer (replacing any earlier one); returns what arrived while there was none. The
   * view is only valid during the call: keep it only by copying. The sink returns false to pause reading.
   */
  attach(sink: (view: Buffer) => boolean): Buffer[] {
    this.sink = sink;
    const early = this.early;
    this.early = [];
    this.earlyBytes = 0;
    return early;
  }
}

/** A sink that re-emits each read as a `data` event (a copy), for a library that listens for them. */
export const emitData =
  (socket: { emit(event: 'data', chunk: Buffer): boolean }) =>
  (view: Buffer): boolean => {
    socket.emit('data', Buffer.from(view));
    return true;
  };

/**
 * A sink writing each read straight to `dst`. While such a write is still pending it points into
 * the read buffer, so the sink says "stop reading" and `resume` is called when that write is flushed
 * (its callback, not 'drain': 'drain' comes only when the queue went over the high-water mark, which
 * a small pending write never does).
 */
export function writeThrough(dst: { write(chunk: Buffer, cb: () => void): boolean; readonly writableLength: number }, resume: () => void): (view: Buffer) => boolean {
  let waiting = false;
  const flushed = (): void => {
    if (!waiting) return;
    waiting = false;
    resume();
  };
  return (view) => {
    dst.write(view, flushed);
    if (dst.writableLength === 0) return true;
    waiting = true;
    return false;
  };
}
