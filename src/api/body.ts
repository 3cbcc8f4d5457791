import type { IncomingMessage } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import { ApiError } from './error-status.js';

/** Request bodies above this are refused with 413. */
export const maxBodyBytes = 1024 * 1024;

export const bodyTooLarge = () => new ApiError('payload_too_large', `request body too large (limit ${maxBodyBytes} bytes)`);

/**
 * Refuses a declared Content-Length over the limit before anything is read. (Hono's bodyLimit builds a
 * full web Request for every request, body or not, which costs more than the rest of a GET.) Bodies
 * without a Content-Length are limited while they are read (readBodyText).
 */
export const declaredBodyLimit: MiddlewareHandler = async (c, next) => {
  const declared = c.req.header('content-length');
  if (declared !== undefined && Number(declared) > maxBodyBytes) {
    // The body is never read, so this connection cannot carry another request.
    c.header('Connection', 'close');
    throw bodyTooLarge();
  }
  await next();
};

/**
 * The request body as text, read straight from Node's request when served by node-server, bounded.
 * Over the limit, the bytes that keep coming are read and dropped rather than the request destroyed:
 * destroying it would reset the connection before the 413 is written. `Connection: close` then ends
 * the connection once the answer is out, so a client that never stops sending is cut off there.
 */
export async function readBodyText(c: Context): Promise<string> {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (!incoming || typeof incoming.on !== 'function') {
    const text = await c.req.text();
    if (Buffer.byteLength(text) > maxBodyBytes) throw bodyTooLarge();
    return text;
  }
  if (incoming.readableEnded) return '';
  // Listeners rather than `for await`: leaving an async iterator early destroys the stream (and the socket).
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (): void => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('close', onClose);
      incoming.off('error', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= maxBodyBytes) {
        chunks.push(chunk);
        return;
      }
      settle();
      chunks.length = 0;
      c.header('Connection', 'close');
      incoming.on('error', () => {}); // a reset while draining is expected; it must not go uncaught
      incoming.resume();
      reject(bodyTooLarge());
    };
    const onEnd = (): void => {
      settle();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    // The client went away mid-body: nobody reads the answer, but the handler must still end.
    const onClose = (): void => {
      settle();
      reject(new ApiError('bad_request', 'invalid request: unexpected EOF'));
    };
    incoming.on('data', onData);
    incoming.once('end', onEnd);
    incoming.once('close', onClose);
    incoming.once('error', onClose);
    if (incoming.destroyed) onClose();
    else incoming.resume();
  });
}

/** A JSON body for the emulator's own admin routes (not Go-compatible decoding). */
export async function readJsonBody(c: Context): Promise<unknown> {
  const text = await readBodyText(c);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ApiError('bad_request', 'request body must be JSON');
  }
}
