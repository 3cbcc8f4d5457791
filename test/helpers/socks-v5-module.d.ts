// Minimal types for the `socksv5` interop peer (it ships none).
declare module 'socksv5' {
  import type { EventEmitter } from 'node:events';
  import type { Socket } from 'node:net';
  interface ClientOptions {
    host: string;
    port: number;
    proxyHost: string;
    proxyPort: number;
    localDNS?: boolean;
    strictLocalDNS?: boolean;
    auths: unknown[];
  }
  interface Client extends EventEmitter {
    connect(options: ClientOptions, onConnect?: (socket: Socket) => void): this;
    on(event: 'connect', listener: (socket: Socket) => void): this;
    on(event: 'error', listener: (err: Error) => void): this;
  }
  const socksv5: {
    /** `socksv5.connect()` needs a Node internal that is gone; `new Client().connect()` works. */
    Client: new (options: ClientOptions) => Client;
    auth: { None(): unknown; UserPassword(user: string, password: string): unknown };
  };
  export default socksv5;
}
