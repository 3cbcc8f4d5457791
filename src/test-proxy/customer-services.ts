import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { silentLogger, type Logger } from '../log.js';
import { listen } from '../net/listen.js';
import { fixturesDir } from '../paths.js';
import { formatHostPort, type CustomerDnsRecords } from './customer-dns.js';

/**
 * The customer's network behind the test proxy, on loopback: an HTTPS "internal API" whose certificate
 * (for `api.internal.example.com`) comes from the fixture CA, and an identify service that answers with
 * the peer address it sees (through the proxy, that is the proxy's address, not the sandbox's).
 */

export const fixtureCaDir = join(fixturesDir, 'ca');
/** The CA sandboxes are told to trust (exported in `/_emulator/info`). */
export const fixtureCaCertPath = join(fixtureCaDir, 'ca.crt');
export const internalApiHostname = 'api.internal.example.com';
export const identifyHostname = 'identify.internal.example.com';
/** Exists only on the customer side: sandboxes cannot resolve it (the documented pitfall). */
export const customerOnlyHostname = 'db.corp.example.com';

export interface ServiceEndpoint {
  host: string;
  port: number;
  /** `host:port`. */
  address: string;
}

export interface CustomerServices {
  internalApi: ServiceEndpoint;
  identify: ServiceEndpoint;
  caCertPath: string;
  stop(): Promise<void>;
}

export interface CustomerServicesOptions {
  host?: string;
  logger?: Logger;
}

const json = (res: http.ServerResponse, status: number, body: unknown): void => {
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
};

const peerOf = (req: http.IncomingMessage): { peer: string; address: string; port: number } => {
  const address = req.socket.remoteAddress ?? '';
  const port = req.socket.remotePort ?? 0;
  return { peer: formatHostPort({ host: address, port }), address, port };
};

async function listenOnFreePort(server: http.Server, host: string): Promise<ServiceEndpoint> {
  const a = await listen(server, { host, port: 0 });
  return { host: a.address, port: a.port, address: formatHostPort({ host: a.address, port: a.port }) };
}

function close(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export async function startCustomerServices({ host = '127.0.0.1', logger = silentLogger() }: CustomerServicesOptions = {}): Promise<CustomerServices> {
  const log = logger.child({ component: 'customer-services' });
  const internalApiServer = https.createServer(
    {
      cert: readFileSync(join(fixtureCaDir, `${internalApiHostname}.crt`)),
      key: readFileSync(join(fixtureCaDir, `${internalApiHostname}.key`)),
    },
    (req, res) => {
      json(res, 200, { service: internalApiHostname, method: req.method, path: req.url, host: req.headers.host, ...peerOf(req) });
    },
  );
  internalApiServer.on('tlsClientError', (err) => log.debug({ err: err.message }, 'internal API TLS error'));
  const identifyServer = http.createServer((req, res) => json(res, 200, { service: 'identify', ...peerOf(req) }));
  const internalApi = await listenOnFreePort(internalApiServer, host);
  let identify: ServiceEndpoint;
  try {
    identify = await listenOnFreePort(identifyServer, host);
  } catch (err) {
    await close(internalApiServer);
    throw err;
  }
  log.info({ internalApi: internalApi.address, identify: identify.address }, 'customer services listening');
  return {
    internalApi,
    identify,
    caCertPath: fixtureCaCertPath,
    stop: async () => {
      await Promise.all([close(internalApiServer), close(identifyServer)]);
    },
  };
}

/** The default world's customer DNS view over running services. */
export function defaultCustomerDns(services: Pick<CustomerServices, 'internalApi' | 'identify'>): CustomerDnsRecords {
  return {
    [`${internalApiHostname}:443`]: services.internalApi.address,
    [`${identifyHostname}:80`]: services.identify.address,
    [customerOnlyHostname]: services.identify.address,
  };
}
