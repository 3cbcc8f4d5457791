import type { Socket } from 'node:net';
import { EmulatorError } from '../errors.js';
import type { Parsed } from './protocol.js';

/**
 * Reads whole protocol messages off a socket with an incremental parser. The socket stays paused between
 * reads, so bytes a peer pipelines after a message are kept (`takeRest`) instead of piling up.
 */

export type ReadFailureCause = 'closed' | 'timeout' | 'socket-error';

export class MessageReadError extends EmulatorError {
  readonly cause_: ReadFailureCause;
  /** Bytes received for the message before the failure (truncated input). */
  readonly received: number;

  constructor(cause: ReadFailureCause, message: string, received: number, options?: { cause?: unknown }) {
    super(`socks5_read_${cause.replace('-', '_')}`, message, options);
    this.name = 'MessageReadError';
    this.cause_ = cause;
    this.received = received;
  }
}

export interface ReadResult<T> {
  value: T;
  /** How many socket reads it took to assemble the message: >1 means the peer fragmented it. */
  chunks: number;
}

/** Upper bound on buffered bytes: the largest SOCKS message is 513 bytes; anything beyond is pipelined data. */
const maxBuffered = 64 * 1024;

export class MessageReader {
  private buffered: Buffer = Buffer.alloc(0);

  constructor(private readonly socket: Socket) {
    socket.pause();
  }

  /**
   * Resolves with the next message, or rejects with `MessageReadError` (closed, timeout, socket error) or
   * the parser's own error. `deadline` is an absolute `Date.now()` time.
   */
  read<T>(parse: (buf: Buffer) => Parsed<T> | undefined, deadline: number): Promise<ReadResult<T>> {
    const socket = this.socket;
    return new Promise<ReadResult<T>>((resolve, reject) => {
      let chunks = 0;
      let timer: NodeJS.Timeout | undefined;
      const cleanup = (): void => {
        if (timer) clearTimeout(timer);
        socket.off('data', onData);
        socket.off('end', onEnd);
        socket.off('close', onEnd);
        socket.off('error', onError);
        socket.pause();
      };
      const attempt = (): boolean => {
        let parsed: Parsed<T> | undefined;
        try {
          parsed = parse(this.buffered);
        } catch (err) {
          cleanup();
          reject(err);
          return true;
        }
        if (!parsed) return false;
        this.buffered = this.buffered.subarray(parsed.length);
        cleanup();
        resolve({ value: parsed.value, chunks: Math.max(chunks, 1) });
        return true;
      };
      const onData = (chunk: Buffer): void => {
        chunks++;
        this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
        if (attempt()) return;
        if (this.buffered.length > maxBuffered) {
          cleanup();
          reject(new MessageReadError('socket-error', 'message too large', this.buffered.length));
        }
      };
      const onEnd = (): void => {
        cleanup();
        reject(new MessageReadError('closed', 'connection closed before a complete message', this.buffered.length));
      };
      const onError = (err: Error): void => {
        cleanup();
        reject(new MessageReadError('socket-error', `socket error: ${(err as NodeJS.ErrnoException).code ?? err.message}`, this.buffered.length, { cause: err }));
      };
      if (this.buffered.length > 0 && attempt()) return;
      if (socket.destroyed || socket.readableEnded) {
        onEnd();
        return;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        reject(new MessageReadError('timeout', 'timed out waiting for a message', this.buffered.length));
        return;
      }
      timer = setTimeout(() => {
        cleanup();
        reject(new MessageReadError('timeout', 'timed out waiting for a message', this.buffered.length));
      }, remaining);
      socket.on('data', onData);
      socket.on('end', onEnd);
      socket.on('close', onEnd);
      socket.on('error', onError);
      socket.resume();
    });
  }

  /** Bytes received after the last message (e.g. data a client sent before the CONNECT reply). */
  takeRest(): Buffer {
    const rest = this.buffered;
    this.buffered = Buffer.alloc(0);
    return rest;
  }
}
