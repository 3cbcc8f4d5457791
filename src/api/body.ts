import type { IncomingMessage } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import { ApiError } from '../errors.js';

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

/** The request body as text, read straight from Node's request when served by node-server, bounded. */
export async function readBodyText(c: Context): Promise<string> {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (!incoming || typeof incoming.on !== 'function') {
    const text = await c.req.text();
    if (Buffer.byteLength(text) > maxBodyBytes) throw bodyTooLarge();
    return text;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of incoming as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBodyBytes) {
      c.header('Connection', 'close');
      incoming.destroy();
      throw bodyTooLarge();
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
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
