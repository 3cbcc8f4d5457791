import net from 'node:net';
import { listen } from '../net/listen.js';
import type { OriginalDestination } from './namespace-backend.js';
import type { TcpFlowOutcome } from '../gateway/flow.js';
import type { Gateway } from '../gateway/gateway.js';

/** A map entry taken out, if there is one. */
function claim<K, V>(map: Map<K, V>, key: K): V | undefined {
  const value = map.get(key);
  if (value !== undefined) map.delete(key);
  return value;
}

/** Pairs the two ends of one loopback connection by the client's source port, whichever shows up first. */
class Pairing<T> {
  private readonly waiting = new Map<number, (value: T) => void>();
  private readonly arrived = new Map<number, T>();

  offer(port: number, value: T): void {
    const take = claim(this.waiting, port);
    if (take) take(value);
    else this.arrived.set(port, value);
  }

  take(port: number): Promise<T> {
    return new Promise<T>((res) => {
      const already = claim(this.arrived, port);
      if (already) res(already);
      else this.waiting.set(port, res);
    });
  }

  /** Ends not yet taken (for stop). */
  drain(): T[] {
    const left = [...this.arrived.values()];
    this.arrived.clear();
    return left;
  }
}

/** A socket the caller holds, and the gateway's outcome of its flow once it ends. */
export interface InProcessConnection {
  socket: net.Socket;
  flow: Promise<TcpFlowOutcome | undefined>;
}

/**
 * In-process interception (`emulator.sandbox(id).connect()`): the caller gets the client end of a
 * loopback connection to a rendezvous server opened on first use; the accepted end goes through the
 * gateway as the sandbox's flow to the given destination, as a redirected connection would.
 */
export class InProcessInterception {
  private readonly pairs = new Pairing<net.Socket>();
  private server: net.Server | undefined;
  private listening: Promise<void> | undefined;
  private opened = false;

  constructor(private readonly gateway: Pick<Gateway, 'handleTcp' | 'host'>) {}

  async connect(sandboxId: string, originalDst: OriginalDestination): Promise<InProcessConnection> {
    const port = await this.port();
    const client = net.connect({ host: '127.0.0.1', port });
    client.on('error', () => {});
    await new Promise<void>((res, rej) => {
      client.once('connect', () => res());
      client.once('error', rej);
    });
    const accepted = await this.pairs.take(client.localPort ?? 0);
    const flow = this.gateway.handleTcp({ sandboxId, originalDst, socket: accepted });
    return { socket: client, flow };
  }

  /** The rendezvous server listens once it was opened (for `/_emulator/health`). */
  healthy(): boolean {
    return !this.opened || this.server?.listening === true;
  }

  async stop(): Promise<void> {
    for (const s of this.pairs.drain()) s.destroy();
    const server = this.server;
    if (server) await new Promise((r) => server.close(r));
  }

  private async port(): Promise<number> {
    if (!this.server) {
      const server = net.createServer({ allowHalfOpen: true }, (s) => {
        s.on('error', () => {});
        this.pairs.offer(s.remotePort ?? 0, s);
      });
      this.server = server;
      server.on('error', () => {}); // accept errors after the listen stay non-fatal, as before
      this.listening = listen(server, { host: '127.0.0.1', port: 0 }).then(() => void (this.opened = true));
      await this.listening;
      // The rendezvous port is the emulator itself: no sandbox reaches it unless its policy names it.
      this.gateway.host.emulatorPorts.add((server.address() as net.AddressInfo).port);
    }
    // Concurrent first connections wait for the same listen: until then address() is null.
    await this.listening;
    return (this.server.address() as net.AddressInfo).port;
  }
}
