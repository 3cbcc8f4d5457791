import net, { type Socket } from 'node:net';
import tls from 'node:tls';
import type { HostPort } from '../net/host-port.js';
import { MessageReadError, MessageReader } from './message-reader.js';
import {
  Socks5Command,
  Socks5Method,
  Socks5Reply,
  UserPassStatus,
  encodeGreeting,
  encodeRequest,
  encodeUserPassRequest,
  parseMethodSelection,
  parseReply,
  parseUserPassStatus,
  type Socks5Address,
} from './protocol.js';

/**
 * The sockets of `proxy check` (check.ts): one client connection through greeting, auth and CONNECT,
 * and a relay probe through an open tunnel, each timed step by step.
 */

/** The proxy to check: where it listens and the credentials to offer. */
export interface ProxyEndpoint extends HostPort {
  username?: string;
  password?: string;
}

export interface StepTiming {
  ms: number;
  chunks: number;
}

export type AttemptEnd =
  | { stage: 'tcp'; error: string }
  | { stage: 'greeting' | 'auth' | 'request'; how: 'closed' | 'timeout' | 'socket-error' | 'protocol-error'; error: string };

export interface Attempt {
  tcpMs?: number;
  offered: number[];
  greeting?: StepTiming & { method: number };
  auth?: StepTiming & { status: number };
  reply?: StepTiming & { code: number };
  end?: AttemptEnd;
  socket?: Socket;
}

export const elapsed = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;
export const round = (ms: number): number => Math.round(ms * 10) / 10;

function connectTcp(proxy: ProxyEndpoint, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: proxy.host, port: proxy.port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      socket.on('error', () => {});
      resolve(socket);
    });
    const onError = (err: NodeJS.ErrnoException): void => {
      clearTimeout(timer);
      reject(new Error(err.code ?? err.message));
    };
    socket.once('error', onError);
  });
}

/** One client connection through greeting, auth and one CONNECT; keeps the socket open on success. */
export async function attempt(proxy: ProxyEndpoint, address: Socks5Address, timeoutMs: number): Promise<Attempt> {
  const hasCreds = proxy.username !== undefined && proxy.password !== undefined;
  // Offer what golang.org/x/net/proxy (the platform's client) offers.
  const offered = hasCreds ? [Socks5Method.NoAuth, Socks5Method.UsernamePassword] : [Socks5Method.NoAuth];
  const result: Attempt = { offered };
  let t0 = process.hrtime.bigint();
  let socket: Socket;
  try {
    socket = await connectTcp(proxy, timeoutMs);
    result.tcpMs = elapsed(t0);
  } catch (err) {
    result.end = { stage: 'tcp', error: (err as Error).message };
    return result;
  }
  const reader = new MessageReader(socket);
  let stage: 'greeting' | 'auth' | 'request' = 'greeting';
  try {
    t0 = process.hrtime.bigint();
    socket.write(encodeGreeting({ methods: offered }));
    const sel = await reader.read(parseMethodSelection, Date.now() + timeoutMs);
    result.greeting = { ms: elapsed(t0), chunks: sel.chunks, method: sel.value.method };
    const method = sel.value.method;
    if (method === Socks5Method.UsernamePassword && hasCreds) {
      stage = 'auth';
      t0 = process.hrtime.bigint();
      socket.write(encodeUserPassRequest({ username: proxy.username!, password: proxy.password! }));
      const st = await reader.read(parseUserPassStatus, Date.now() + timeoutMs);
      result.auth = { ms: elapsed(t0), chunks: st.chunks, status: st.value.status };
      if (st.value.status !== UserPassStatus.Success) {
        socket.destroy();
        return result;
      }
    } else if (method !== Socks5Method.NoAuth) {
      socket.destroy();
      return result;
    }
    stage = 'request';
    t0 = process.hrtime.bigint();
    socket.write(encodeRequest({ command: Socks5Command.Connect, address }));
    const rep = await reader.read(parseReply, Date.now() + timeoutMs);
    result.reply = { ms: elapsed(t0), chunks: rep.chunks, code: rep.value.code };
    if (rep.value.code === Socks5Reply.Succeeded) {
      const rest = reader.takeRest();
      if (rest.length > 0) socket.unshift(rest);
      result.socket = socket;
    } else socket.destroy();
  } catch (err) {
    socket.destroy();
    const how = err instanceof MessageReadError ? (err.cause_ === 'closed' ? 'closed' : err.cause_) : 'protocol-error';
    result.end = { stage, how, error: (err as Error).message };
  }
  return result;
}

export interface ProbeResult {
  kind: 'tls' | 'http';
  bytes: number;
  end: 'fin' | 'reset' | 'timeout' | 'error';
  error?: string;
  firstByteMs?: number;
  totalMs: number;
  rateKBps?: number;
  tlsError?: string;
}

/** Speaks to the target through the tunnel and watches how the relay behaves. */
export async function probeRelay(socket: Socket, target: HostPort, kind: 'tls' | 'http', timeoutMs: number): Promise<ProbeResult> {
  const t0 = process.hrtime.bigint();
  let bytes = 0;
  let firstByteAt: number | undefined;
  let lastByteAt: number | undefined;
  let tlsError: string | undefined;
  const request = `GET / HTTP/1.1\r\nHost: ${target.host}\r\nUser-Agent: sandbox-egress-emulator-proxy-check\r\nConnection: close\r\n\r\n`;
  return new Promise<ProbeResult>((resolve) => {
    let stream: Socket | tls.TLSSocket = socket;
    let done = false;
    const finish = (end: ProbeResult['end'], error?: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stream.destroy();
      socket.destroy();
      const totalMs = elapsed(t0);
      const r: ProbeResult = { kind, bytes, end, totalMs };
      if (error) r.error = error;
      if (tlsError) r.tlsError = tlsError;
      if (firstByteAt !== undefined) r.firstByteMs = firstByteAt;
      if (bytes >= 32 * 1024 && firstByteAt !== undefined && lastByteAt !== undefined && lastByteAt > firstByteAt) {
        r.rateKBps = bytes / (lastByteAt - firstByteAt);
      }
      resolve(r);
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    const onData = (chunk: Buffer): void => {
      const now = elapsed(t0);
      firstByteAt ??= now;
      lastByteAt = now;
      bytes += chunk.length;
    };
    socket.on('error', (err: NodeJS.ErrnoException) => finish(err.code === 'ECONNRESET' ? 'reset' : 'error', err.code ?? err.message));
    if (kind === 'tls') {
      // TLS takes over the socket's handle, so bytes are counted as plaintext from the TLS side.
      const t = tls.connect({ socket, servername: net.isIP(target.host) ? undefined : target.host, rejectUnauthorized: false });
      stream = t;
      t.on('secureConnect', () => t.write(request));
      t.on('data', onData);
      t.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ECONNRESET') finish('reset', err.code);
        else {
          tlsError = err.code ?? err.message;
          finish('error', tlsError);
        }
      });
      t.on('end', () => finish('fin'));
    } else {
      socket.on('data', onData);
      socket.on('end', () => finish('fin'));
      socket.write(request);
      socket.resume();
    }
  });
}

