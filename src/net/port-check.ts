import { createServer } from 'node:net';
import { EmulatorError } from '../errors.js';
import { listen } from './listen.js';

/** The API port is taken: stable code, and a message that says what to do. */
export class PortInUseError extends EmulatorError {
  readonly port: number;
  readonly host: string;

  constructor(host: string, port: number, options?: { cause?: unknown }) {
    super('port_in_use', `port ${port} on ${host} is already in use (another emulator?): stop it, or pick a free port with --port 0`, options);
    this.name = 'PortInUseError';
    this.host = host;
    this.port = port;
  }
}

/** EADDRINUSE from a listen, as a PortInUseError; anything else unchanged. */
export function asPortInUse(err: unknown, host: string, port: number): unknown {
  return (err as NodeJS.ErrnoException)?.code === 'EADDRINUSE' ? new PortInUseError(host, port, { cause: err }) : err;
}

/**
 * Fails fast when `host:port` cannot be bound, before anything with side effects (network namespaces,
 * nftables, a data dir) is created. A bind and an immediate close: the real listen comes later, so a
 * process that takes the port in between still gets the same error from it. Port 0 always passes.
 */
export async function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const probe = createServer();
  try {
    await listen(probe, { host, port, exclusive: true });
  } catch (err) {
    throw asPortInUse(err, host, port);
  } finally {
    await new Promise<void>((resolve) => (probe.listening ? probe.close(() => resolve()) : resolve()));
  }
}
