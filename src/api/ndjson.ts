import type { Context } from 'hono';
import { stream } from 'hono/streaming';

/** How often an idle NDJSON stream sends a heartbeat line (keeps proxies and clients from timing out). */
export const heartbeatMs = 15_000;

/**
 * An NDJSON response that stays open until the client disconnects. `start` gets a `send` function and
 * returns a cleanup; lines sent before the stream is writable are queued in order.
 */
export function ndjson(c: Context, start: (send: (line: unknown) => void) => () => void, heartbeat?: () => unknown): Response {
  c.header('Content-Type', 'application/x-ndjson');
  c.header('Cache-Control', 'no-cache');
  return stream(c, async (s) => {
    let closed = false;
    let wake: (() => void) | undefined;
    const queue: string[] = [];
    const send = (line: unknown) => {
      if (closed) return;
      queue.push(JSON.stringify(line) + '\n');
      wake?.();
    };
    const stop = start(send);
    const timer = heartbeat ? setInterval(() => send(heartbeat()), heartbeatMs) : undefined;
    s.onAbort(() => {
      closed = true;
      wake?.();
    });
    try {
      while (!closed) {
        if (queue.length === 0) {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
          continue;
        }
        const chunk = queue.splice(0, queue.length).join('');
        await s.write(chunk);
      }
    } finally {
      closed = true;
      if (timer) clearInterval(timer);
      stop();
    }
  });
}
