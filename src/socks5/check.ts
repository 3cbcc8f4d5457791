import { lookup as dnsLookup } from 'node:dns/promises';
import net, { type Socket } from 'node:net';
import tls from 'node:tls';
import { MessageReadError, MessageReader } from './message-reader.js';
import {
  Socks5Command,
  Socks5Method,
  Socks5Reply,
  UserPassStatus,
  addressFor,
  describeMethod,
  describeReply,
  encodeGreeting,
  encodeRequest,
  encodeUserPassRequest,
  hexByte,
  parseMethodSelection,
  parseReply,
  parseUserPassStatus,
  type Socks5Address,
  type Socks5Atyp,
} from './protocol.js';

/**
 * `proxy check`: a step-by-step diagnosis of any SOCKS5 proxy (methods, auth, CONNECT by hostname, by
 * IPv4, by IPv6, then a short relay probe), as a structured report plus findings that name the fault.
 */

export interface ProxyEndpoint {
  host: string;
  port: number;
  username?: string;
  password?: string;
}

export interface Endpoint {
  host: string;
  port: number;
}

export interface ProxyCheckOptions {
  proxy: ProxyEndpoint;
  /** The destination, normally a hostname (what the gateway sends). */
  target: Endpoint;
  /** IPv4 destination for the CONNECT-by-IP step; default: the target resolved here. */
  targetIpv4?: Endpoint;
  /** IPv6 destination for the CONNECT-by-IPv6 step; default: the target resolved here (skipped if none). */
  targetIpv6?: Endpoint;
  /** Per-step timeout. */
  timeoutMs?: number;
  /** Steps slower than this are reported as slow. */
  slowMs?: number;
  /** After a successful hostname CONNECT: speak TLS (`auto` for port 443) or HTTP, and watch the relay. */
  probe?: 'auto' | 'tls' | 'http' | 'none';
  /** Relayed throughput below this (KB/s, measured on ≥ 32 KiB) is reported as slow. */
  minRateKBps?: number;
  lookup?: (host: string) => Promise<{ address: string; family: number }[]>;
}

export type StepStatus = 'ok' | 'fail' | 'skip' | 'warn';

export interface CheckStep {
  name: 'tcp-connect' | 'greeting' | 'auth' | 'connect-hostname' | 'connect-ipv4' | 'connect-ipv6' | 'relay';
  status: StepStatus;
  durationMs?: number;
  detail: string;
  data?: Record<string, unknown>;
}

export type FindingCode =
  | 'proxy_unreachable'
  | 'no_greeting_reply'
  | 'closed_at_greeting'
  | 'no_acceptable_method'
  | 'auth_required'
  | 'auth_rejected'
  | 'closed_at_auth'
  | 'closed_at_request'
  | 'no_request_reply'
  | 'cannot_resolve_hostnames'
  | 'hostname_not_found'
  | 'ipv6_rejected'
  | 'reply_code'
  | 'slow_handshake'
  | 'slow_connect'
  | 'fragmented_replies'
  | 'reset_during_relay'
  | 'closed_after_connect'
  | 'slow_relay'
  | 'relay_silent'
  | 'protocol_error';

export interface Finding {
  code: FindingCode;
  message: string;
}

export interface CheckReport {
  proxy: { host: string; port: number; user?: string };
  target: Endpoint;
  steps: CheckStep[];
  findings: Finding[];
  hostnameConnectWorks: boolean;
  verdict: string;
}

interface StepTiming {
  ms: number;
  chunks: number;
}

type AttemptEnd =
  | { stage: 'tcp'; error: string }
  | { stage: 'greeting' | 'auth' | 'request'; how: 'closed' | 'timeout' | 'socket-error' | 'protocol-error'; error: string };

interface Attempt {
  tcpMs?: number;
  offered: number[];
  greeting?: StepTiming & { method: number };
  auth?: StepTiming & { status: number };
  reply?: StepTiming & { code: number };
  end?: AttemptEnd;
  socket?: Socket;
}

const elapsed = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;
const round = (ms: number): number => Math.round(ms * 10) / 10;

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
async function attempt(proxy: ProxyEndpoint, address: Socks5Address, timeoutMs: number): Promise<Attempt> {
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

interface ProbeResult {
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
async function probeRelay(socket: Socket, target: Endpoint, kind: 'tls' | 'http', timeoutMs: number): Promise<ProbeResult> {
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

const atypLabel: Record<Socks5Atyp, string> = { domain: 'hostname, ATYP 0x03', ipv4: 'IPv4, ATYP 0x01', ipv6: 'IPv6, ATYP 0x04' };
const fmt = (e: Endpoint): string => (e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`);

export async function checkProxy({
  proxy,
  target,
  targetIpv4,
  targetIpv6,
  timeoutMs = 5000,
  slowMs = 1000,
  probe = 'auto',
  minRateKBps = 1000,
  lookup = (host) => dnsLookup(host, { all: true }),
}: ProxyCheckOptions): Promise<CheckReport> {
  const steps: CheckStep[] = [];
  const findings: Finding[] = [];
  const find = (code: FindingCode, message: string): void => {
    if (!findings.some((f) => f.code === code)) findings.push({ code, message });
  };
  const report = (hostnameConnectWorks: boolean, verdict: string): CheckReport => {
    const p: CheckReport['proxy'] = { host: proxy.host, port: proxy.port };
    if (proxy.username !== undefined) p.user = proxy.username;
    return { proxy: p, target, steps, findings, hostnameConnectWorks, verdict };
  };

  const first = await attempt(proxy, addressFor(target.host, target.port), timeoutMs);
  if (first.end?.stage === 'tcp') {
    steps.push({ name: 'tcp-connect', status: 'fail', detail: `cannot connect to ${fmt(proxy)}: ${first.end.error}` });
    find('proxy_unreachable', `proxy unreachable: TCP connect to ${fmt(proxy)} failed (${first.end.error})`);
    return report(false, 'FAIL: the proxy is unreachable');
  }
  steps.push({ name: 'tcp-connect', status: 'ok', durationMs: round(first.tcpMs ?? 0), detail: `connected to ${fmt(proxy)}` });

  // Greeting
  const offeredText = first.offered.map(describeMethod).join(', ');
  if (!first.greeting) {
    const end = first.end!;
    const how = 'how' in end ? end.how : 'closed';
    steps.push({ name: 'greeting', status: 'fail', detail: `offered ${offeredText}; no method selection: ${end.error}`, data: { offered: first.offered } });
    if (how === 'timeout') find('no_greeting_reply', `proxy never answered the greeting (no method selection within ${timeoutMs} ms)`);
    else if (how === 'protocol-error') find('protocol_error', `proxy answered the greeting with something that is not SOCKS5: ${end.error}`);
    else find('closed_at_greeting', 'proxy closed the connection right after the greeting without answering (silent close)');
    return report(false, 'FAIL: the SOCKS5 greeting fails');
  }
  const g = first.greeting;
  steps.push({
    name: 'greeting',
    status: g.method === Socks5Method.NoAcceptable ? 'fail' : 'ok',
    durationMs: round(g.ms),
    detail: `offered ${offeredText}; proxy chose ${describeMethod(g.method)}`,
    data: { offered: first.offered, chosen: g.method, chunks: g.chunks },
  });
  if (g.ms > slowMs) find('slow_handshake', `slow handshake: the proxy took ${Math.round(g.ms)} ms to answer the greeting`);
  const noteFragments = (what: string, chunks: number): void => {
    if (chunks > 1) find('fragmented_replies', `fragmented replies: the proxy wrote its ${what} in ${chunks} pieces (clients that expect a whole reply per read break)`);
  };
  noteFragments('method selection', g.chunks);
  const hasCreds = proxy.username !== undefined;
  if (g.method === Socks5Method.NoAcceptable) {
    find(
      'no_acceptable_method',
      hasCreds
        ? 'no acceptable authentication method: the proxy refused both no-auth (0x00) and username/password (0x02), reply 0xff'
        : 'no acceptable authentication method: the proxy refused no-auth (0x00), reply 0xff; it probably requires username/password — put credentials in the proxy URL',
    );
    return report(false, 'FAIL: the proxy accepts none of the offered authentication methods');
  }
  if (g.method !== Socks5Method.NoAuth && g.method !== Socks5Method.UsernamePassword) {
    find('protocol_error', `proxy chose ${describeMethod(g.method)}, which was not offered`);
    return report(false, 'FAIL: the proxy chose a method that was not offered');
  }
  if (g.method === Socks5Method.UsernamePassword && !hasCreds) {
    find('auth_required', 'the proxy requires username/password but none were given');
    return report(false, 'FAIL: credentials required');
  }

  // Auth
  if (g.method === Socks5Method.UsernamePassword) {
    if (!first.auth) {
      const end = first.end!;
      steps.push({ name: 'auth', status: 'fail', detail: `as ${proxy.username}: no status: ${end.error}` });
      find('closed_at_auth', 'proxy closed the connection during username/password authentication without a status (silent close)');
      return report(false, 'FAIL: authentication did not complete');
    }
    const ok = first.auth.status === UserPassStatus.Success;
    steps.push({
      name: 'auth',
      status: ok ? 'ok' : 'fail',
      durationMs: round(first.auth.ms),
      detail: `RFC 1929 as ${proxy.username}: ${ok ? 'accepted (status 0x00)' : `rejected (status ${hexByte(first.auth.status)})`}`,
      data: { status: first.auth.status, chunks: first.auth.chunks },
    });
    noteFragments('authentication status', first.auth.chunks);
    if (!ok) {
      find('auth_rejected', `authentication rejected: the proxy answered status ${hexByte(first.auth.status)} for user ${proxy.username} (wrong username or password, or the user is not allowed)`);
      return report(false, 'FAIL: authentication rejected');
    }
  } else {
    steps.push({ name: 'auth', status: 'skip', detail: 'no authentication (method 0x00)' });
  }

  // CONNECT by hostname
  const connectStep = (name: CheckStep['name'], a: Attempt, dest: Endpoint, atyp: Socks5Atyp): void => {
    const label = `CONNECT ${fmt(dest)} (${atypLabel[atyp]})`;
    if (a.reply) {
      const ok = a.reply.code === Socks5Reply.Succeeded;
      steps.push({ name, status: ok ? 'ok' : 'fail', durationMs: round(a.reply.ms), detail: `${label}: reply ${describeReply(a.reply.code)}`, data: { replyCode: a.reply.code, chunks: a.reply.chunks } });
      noteFragments('CONNECT reply', a.reply.chunks);
      if (a.reply.ms > slowMs) find('slow_connect', `slow CONNECT: the proxy took ${Math.round(a.reply.ms)} ms to reply to ${label}`);
    } else {
      steps.push({ name, status: 'fail', detail: `${label}: no reply: ${a.end && 'error' in a.end ? a.end.error : 'handshake failed'}` });
    }
  };
  const isDomain = addressFor(target.host, target.port).atyp === 'domain';
  connectStep('connect-hostname', first, target, addressFor(target.host, target.port).atyp);
  if (!first.reply && first.end && first.end.stage === 'request') {
    if (first.end.how === 'timeout') find('no_request_reply', `proxy never answered the CONNECT request (${timeoutMs} ms)`);
    else find('closed_at_request', 'proxy closed the connection after the CONNECT request without replying (silent close)');
  }
  const hostnameWorks = first.reply?.code === Socks5Reply.Succeeded;

  // Relay probe on the hostname tunnel
  if (hostnameWorks && first.socket) {
    const kind = probe === 'auto' ? (target.port === 443 ? 'tls' : 'http') : probe;
    if (kind === 'none') first.socket.destroy();
    else {
      const p = await probeRelay(first.socket, target, kind, timeoutMs);
      const rate = p.rateKBps !== undefined ? `, ${Math.round(p.rateKBps)} KB/s` : '';
      const endText = { fin: 'closed normally (FIN)', reset: 'RESET by the proxy', timeout: 'still open at the timeout', error: `error ${p.error ?? ''}` }[p.end];
      const relayOk = p.end !== 'reset' && p.end !== 'error' && p.bytes > 0;
      steps.push({
        name: 'relay',
        status: relayOk ? (p.rateKBps !== undefined && p.rateKBps < minRateKBps ? 'warn' : 'ok') : p.end === 'timeout' ? 'warn' : 'fail',
        durationMs: round(p.totalMs),
        detail: `${kind === 'tls' ? 'TLS handshake + HTTP GET' : 'HTTP GET'} through the tunnel: ${p.bytes} bytes back${rate}, ${endText}${p.tlsError ? ` (TLS: ${p.tlsError})` : ''}`,
        data: { ...p },
      });
      if (p.end === 'reset') find('reset_during_relay', `connection reset by the proxy after ${p.bytes} bytes were relayed back`);
      else if (p.bytes === 0 && p.end === 'fin') find('closed_after_connect', 'proxy closed the tunnel right after a successful CONNECT without relaying anything');
      else if (p.bytes === 0 && p.end === 'timeout') find('relay_silent', `nothing came back through the tunnel within ${timeoutMs} ms (the target may wait for another protocol, or the proxy does not relay)`);
      if (p.rateKBps !== undefined && p.rateKBps < minRateKBps) find('slow_relay', `slow relay: ${Math.round(p.rateKBps)} KB/s through the proxy (bandwidth limited?)`);
    }
  }

  // CONNECT by IP
  let v4 = targetIpv4;
  let v6 = targetIpv6;
  if (isDomain && (!v4 || !v6)) {
    try {
      const addrs = await lookup(target.host);
      const a4 = addrs.find((a) => a.family === 4);
      const a6 = addrs.find((a) => a.family === 6);
      if (!v4 && a4) v4 = { host: a4.address, port: target.port };
      if (!v6 && a6) v6 = { host: a6.address, port: target.port };
    } catch {
      // The name may exist only on the proxy's side; the IP steps are then skipped.
    }
  } else if (!isDomain) {
    const kind = addressFor(target.host, target.port).atyp;
    if (kind === 'ipv4') v4 ??= target;
    if (kind === 'ipv6') v6 ??= target;
  }
  let v4Code: number | undefined;
  for (const [name, dest, atyp] of [
    ['connect-ipv4', v4, 'ipv4'],
    ['connect-ipv6', v6, 'ipv6'],
  ] as const) {
    if (!dest) {
      steps.push({ name, status: 'skip', detail: `no ${atyp === 'ipv4' ? 'IPv4' : 'IPv6'} address for ${target.host} here (pass --target-ip${atyp === 'ipv6' ? '6' : ''})` });
      continue;
    }
    const a = await attempt(proxy, addressFor(dest.host, dest.port), timeoutMs);
    a.socket?.destroy();
    connectStep(name, a, dest, atyp);
    const code = a.reply?.code;
    if (atyp === 'ipv4') v4Code = code;
    if (atyp === 'ipv6' && code === Socks5Reply.AddressTypeNotSupported && v4Code === Socks5Reply.Succeeded) {
      find('ipv6_rejected', `proxy does not support IPv6: reply ${describeReply(code)} to an IPv6 CONNECT, IPv4 works`);
    }
  }

  const hostCode = first.reply?.code;
  if (hostCode !== undefined && hostCode !== Socks5Reply.Succeeded && isDomain) {
    if (hostCode === Socks5Reply.AddressTypeNotSupported && v4Code === Socks5Reply.Succeeded) {
      find('cannot_resolve_hostnames', `proxy cannot resolve hostnames: reply ${describeReply(hostCode)} to a domain CONNECT, IPv4 works`);
    } else if (hostCode === Socks5Reply.HostUnreachable && v4Code === Socks5Reply.Succeeded) {
      find('hostname_not_found', `the proxy cannot resolve ${target.host}: reply ${describeReply(hostCode)} to a domain CONNECT, IPv4 works (the name is missing from the proxy's DNS)`);
    } else {
      const ipText = v4Code === undefined ? 'IPv4 not tested' : v4Code === hostCode ? 'IPv4 gets the same reply' : `IPv4 gets ${describeReply(v4Code)}`;
      find('reply_code', `proxy refuses the CONNECT: reply ${describeReply(hostCode)} to a domain CONNECT (${ipText})`);
    }
  } else if (hostCode !== undefined && hostCode !== Socks5Reply.Succeeded) {
    find('reply_code', `proxy refuses the CONNECT: reply ${describeReply(hostCode)}`);
  }

  const verdict = hostnameWorks
    ? findings.length === 0
      ? 'OK: CONNECT by hostname works'
      : `OK with warnings: CONNECT by hostname works (${findings.length} finding${findings.length > 1 ? 's' : ''})`
    : 'FAIL: CONNECT by hostname does not work';
  return report(hostnameWorks && isDomain, verdict);
}

const statusMark: Record<StepStatus, string> = { ok: '[ ok ]', fail: '[FAIL]', skip: '[skip]', warn: '[warn]' };

/** Human-readable rendering of a report (the CLI prints this without `--json`). */
export function renderCheckReport(r: CheckReport): string {
  const lines = [`proxy check socks5://${r.proxy.user ? `${r.proxy.user}:***@` : ''}${fmt(r.proxy)} -> target ${fmt(r.target)}`];
  for (const s of r.steps) {
    lines.push(`${statusMark[s.status]} ${s.name.padEnd(16)} ${s.detail}${s.durationMs !== undefined ? `  (${s.durationMs} ms)` : ''}`);
  }
  if (r.findings.length) {
    lines.push('findings:');
    for (const f of r.findings) lines.push(`  - ${f.message} [${f.code}]`);
  }
  lines.push(r.verdict);
  return lines.join('\n') + '\n';
}

/** Parses `socks5://[user:pass@]host:port` (also `socks5h://`); percent-encoding is decoded. */
export function parseProxyUrl(text: string): ProxyEndpoint {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(`not a proxy URL: expected socks5://[user:pass@]host:port`);
  }
  if (url.protocol !== 'socks5:' && url.protocol !== 'socks5h:') throw new TypeError(`unsupported proxy scheme ${url.protocol} (expected socks5://)`);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port ? Number(url.port) : 1080;
  const out: ProxyEndpoint = { host, port };
  if (url.username) {
    out.username = decodeURIComponent(url.username);
    out.password = decodeURIComponent(url.password);
  }
  return out;
}
