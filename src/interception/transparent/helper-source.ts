/**
 * The gateway-namespace helper, as plain CommonJS source run with `node -e` (so the same code works
 * from src/ under vitest and from dist/ when built, with no file to resolve or compile).
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
export const helperSource = String.raw`
'use strict';
const net = require('node:net');
const dgram = require('node:dgram');
const watched = new Set();
const reply = (msg, handle, done) => {
  try { process.send(msg, handle, {}, (err) => { if (done) done(err); }); } catch (err) { if (done) done(err); }
};
const fail = (id, err) => reply({ op: 'error', id, message: String(err && err.message || err) });
process.on('message', (msg) => {
  if (!msg || typeof msg !== 'object') return;
  if (msg.op === 'listen' && msg.kind === 'tcp') {
    const server = net.createServer();
    server.once('error', (err) => fail(msg.id, err));
    server.listen({ host: msg.host, port: msg.port, exclusive: true }, () => {
      reply({ op: 'listening', id: msg.id, port: server.address().port }, server, () => server.close());
    });
  } else if (msg.op === 'listen' && msg.kind === 'udp') {
    const socket = dgram.createSocket('udp4');
    socket.once('error', (err) => fail(msg.id, err));
    socket.bind({ address: msg.host, port: msg.port, exclusive: true }, () => {
      reply({ op: 'listening', id: msg.id, port: socket.address().port }, socket, () => socket.close());
    });
  } else if (msg.op === 'probe') {
    const socket = dgram.createSocket('udp4');
    socket.on('error', () => socket.close());
    socket.bind(0, '127.0.0.1', () => {
      const sourcePort = socket.address().port;
      socket.send(Buffer.from([0]), msg.port, '127.0.0.1', () => {
        socket.close();
        reply({ op: 'probed', id: msg.id, sourcePort });
      });
    });
  } else if (msg.op === 'watch' && Number.isInteger(msg.pid)) {
    watched.add(msg.pid);
  }
});
process.on('disconnect', () => {
  for (const pid of watched) { try { process.kill(pid, 'SIGKILL'); } catch {} }
  process.exit(0);
});
process.send({ op: 'ready', pid: process.pid });
`;
