import type net from 'node:net';
import { endAndLinger } from '../socks5/server-handshake.js';
import type { ExplicitIngressDeps } from './explicit.js';
import { maxProxyHeadBytes, parseHttpProxyRequest, type HttpProxyRequest } from './http-proxy-request.js';

type HttpProxyTarget = Extract<HttpProxyRequest, { kind: 'connect' | 'forward' }>;

const statusText = (status: number): string =>
  status === 502 ? 'Bad Gateway' : status === 405 ? 'Method Not Allowed' : status === 431 ? 'Request Header Fields Too Large' : 'Bad Request';

/**
 * One connection to the explicit HTTP proxy port: `CONNECT host:port` (the bytes after the head are
 * the flow's first bytes) or an absolute-form `http://` request (the whole head is). A name the
 * sandbox cannot resolve gets a 502 and never becomes a flow.
 */
export function serveHttpIngress(socket: net.Socket, deps: ExplicitIngressDeps, handshakeTimeoutMs: number): void {
  const { sandboxId } = deps;
  let head = Buffer.alloc(0);
  const timer = setTimeout(() => socket.destroy(), handshakeTimeoutMs);
  // A client that closes its side before its request head is complete gets nothing more.
  const onEnd = () => {
    clearTimeout(timer);
    socket.destroy();
  };
  const reject = (status: number, message: string) => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('end', onEnd);
    const body = `${message}\n`;
    endAndLinger(socket, `HTTP/1.1 ${status} ${statusText(status)}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  };
  const onData = (chunk: Buffer) => {
    head = Buffer.concat([head, chunk]);
    if (head.length > maxProxyHeadBytes * 2) return reject(431, 'request head too large');
    const req = parseHttpProxyRequest(head);
    if (req.kind === 'need-more') return;
    if (req.kind === 'invalid') return reject(req.status, req.message);
    const found = deps.resolve(req.host);
    if (!(found instanceof Promise)) return proceed(req, found);
    // The answer takes a while (the host's resolver): the request head is complete, so nothing more
    // is read until it is here; the handshake timer still runs.
    socket.off('data', onData);
    socket.pause();
    found.then(
      (ip) => proceed(req, ip),
      () => proceed(req, undefined),
    );
  };
  const proceed = (req: HttpProxyTarget, ip: string | undefined) => {
    if (socket.destroyed) return;
    if (!ip) {
      deps.onUnresolvable(req.host, req.port, 'http-connect');
      return reject(502, `sandbox-egress-emulator: ${req.host} does not resolve inside the sandbox, so no connection was opened`);
    }
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.pause();
    if (req.kind === 'connect') {
      const rest = head.subarray(req.headLength);
      socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
      deps.onTcpFlow({ sandboxId, originalDst: { ip, port: req.port }, socket, initialBytes: rest });
    } else {
      deps.onTcpFlow({ sandboxId, originalDst: { ip, port: req.port }, socket, initialBytes: head });
    }
  };
  socket.on('data', onData);
  socket.once('end', onEnd);
}
