// @ts-check
/**
 * The gateway-namespace helper, a process of its own (`node helper-process.js` inside the namespace,
 * spawned by helper.ts). Plain JavaScript so that the same file runs from src/ under vitest, from
 * dist/ and from the bin's dist/bin/, with nothing to compile.
 *
 * It lives inside the gateway namespace, creates listening sockets there on request and hands them
 * to the main process over the IPC channel, then closes its own copy (otherwise the kernel would
 * give it some of the connections, which it never answers). It exits when the main process goes
 * away, killing the processes it was asked to watch (the conntrack stream), so a crash of the main
 * process leaves no process behind in the namespace.
 *
 * Messages (main → helper):
 *   { op: 'listen', id, kind: 'tcp' | 'udp', host, port }  → { op: 'listening', id, port } + handle
 *                                                           | { op: 'error', id, message }
 *   { op: 'probe', id, port }   sends one datagram to 127.0.0.1:port → { op: 'probed', id, sourcePort }
 *   { op: 'watch', pid }        kill pid when the main process disconnects
 */
import dgram from 'node:dgram';
import net from 'node:net';

/**
 * @typedef {{ op: 'listen', id: number, kind: 'tcp' | 'udp', host: string, port: number }
 *   | { op: 'probe', id: number, port: number }
 *   | { op: 'watch', pid: number }} HelperRequest
 */

/** @type {Set<number>} */
const watched = new Set();

/**
 * @param {object} msg
 * @param {net.Server | dgram.Socket} [handle]
 * @param {(err: Error | null) => void} [done]
 */
const reply = (msg, handle, done) => {
  try {
    // Spawned with an IPC channel (helper.ts), so `process.send` is there.
    process.send?.(msg, handle, {}, (err) => {
      if (done) done(err);
    });
  } catch (err) {
    if (done) done(/** @type {Error} */ (err));
  }
};
/** @param {number} id @param {unknown} err */
const fail = (id, err) => reply({ op: 'error', id, message: String((err instanceof Error && err.message) || err) });

/** @param {Extract<HelperRequest, { op: 'listen' }>} msg */
function listenTcp(msg) {
  const server = net.createServer();
  server.once('error', (err) => fail(msg.id, err));
  server.listen({ host: msg.host, port: msg.port, exclusive: true }, () => {
    const { port } = /** @type {net.AddressInfo} */ (server.address());
    reply({ op: 'listening', id: msg.id, port }, server, () => server.close());
  });
}

/** @param {Extract<HelperRequest, { op: 'listen' }>} msg */
function listenUdp(msg) {
  const socket = dgram.createSocket('udp4');
  socket.once('error', (err) => fail(msg.id, err));
  socket.bind({ address: msg.host, port: msg.port, exclusive: true }, () => {
    reply({ op: 'listening', id: msg.id, port: socket.address().port }, socket, () => socket.close());
  });
}

/** @param {Extract<HelperRequest, { op: 'probe' }>} msg */
function probe(msg) {
  const socket = dgram.createSocket('udp4');
  socket.on('error', () => socket.close());
  socket.bind(0, '127.0.0.1', () => {
    const sourcePort = socket.address().port;
    socket.send(Buffer.from([0]), msg.port, '127.0.0.1', () => {
      socket.close();
      reply({ op: 'probed', id: msg.id, sourcePort });
    });
  });
}

process.on('message', (/** @type {HelperRequest} */ msg) => {
  if (!msg || typeof msg !== 'object') return;
  if (msg.op === 'listen' && msg.kind === 'tcp') listenTcp(msg);
  else if (msg.op === 'listen' && msg.kind === 'udp') listenUdp(msg);
  else if (msg.op === 'probe') probe(msg);
  else if (msg.op === 'watch' && Number.isInteger(msg.pid)) watched.add(msg.pid);
});
process.on('disconnect', () => {
  for (const pid of watched) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  process.exit(0);
});
reply({ op: 'ready', pid: process.pid });
