import { lookup as dnsLookup } from 'node:dns/promises';
import { formatHostPort as fmt, type HostPort } from '../net/host-port.js';
import { attempt, probeRelay, round, type Attempt, type ProxyEndpoint } from './check-probe.js';
import { Socks5Method, Socks5Reply, UserPassStatus, addressFor, describeMethod, describeReply, hexByte, type Socks5Atyp } from './protocol.js';

export type { ProxyEndpoint };

/**
 * `proxy check`: a step-by-step diagnosis of any SOCKS5 proxy (methods, auth, CONNECT by hostname, by
 * IPv4, by IPv6, then a short relay probe), as a structured report plus findings that name the fault.
 */

export interface ProxyCheckOptions {
  proxy: ProxyEndpoint;
  /** The destination, normally a hostname (what the gateway sends). */
  target: HostPort;
  /** IPv4 destination for the CONNECT-by-IP step; default: the target resolved here. */
  targetIpv4?: HostPort;
  /** IPv6 destination for the CONNECT-by-IPv6 step; default: the target resolved here (skipped if none). */
  targetIpv6?: HostPort;
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
  target: HostPort;
  steps: CheckStep[];
  findings: Finding[];
  hostnameConnectWorks: boolean;
  verdict: string;
}

const atypLabel: Record<Socks5Atyp, string> = { domain: 'hostname, ATYP 0x03', ipv4: 'IPv4, ATYP 0x01', ipv6: 'IPv6, ATYP 0x04' };

type CheckSettings = Required<Omit<ProxyCheckOptions, 'targetIpv4' | 'targetIpv6'>> & Pick<ProxyCheckOptions, 'targetIpv4' | 'targetIpv6'>;

/** One run of the check: the steps and findings so far, and the step-by-step diagnosis. */
class ProxyCheck {
  readonly steps: CheckStep[] = [];
  readonly findings: Finding[] = [];

  constructor(private readonly o: CheckSettings) {}

  /** A finding, once per code. */
  find(code: FindingCode, message: string): void {
    if (!this.findings.some((f) => f.code === code)) this.findings.push({ code, message });
  }

  report(hostnameConnectWorks: boolean, verdict: string): CheckReport {
    const { proxy, target } = this.o;
    const p: CheckReport['proxy'] = { host: proxy.host, port: proxy.port };
    if (proxy.username !== undefined) p.user = proxy.username;
    return { proxy: p, target, steps: this.steps, findings: this.findings, hostnameConnectWorks, verdict };
  }

  private noteFragments(what: string, chunks: number): void {
    if (chunks > 1) this.find('fragmented_replies', `fragmented replies: the proxy wrote its ${what} in ${chunks} pieces (clients that expect a whole reply per read break)`);
  }

  /** TCP connect and greeting; a report when the check ends there. */
  greeting(first: Attempt): CheckReport | undefined {
    const { proxy, timeoutMs, slowMs } = this.o;
    if (first.end?.stage === 'tcp') {
      this.steps.push({ name: 'tcp-connect', status: 'fail', detail: `cannot connect to ${fmt(proxy)}: ${first.end.error}` });
      this.find('proxy_unreachable', `proxy unreachable: TCP connect to ${fmt(proxy)} failed (${first.end.error})`);
      return this.report(false, 'FAIL: the proxy is unreachable');
    }
    this.steps.push({ name: 'tcp-connect', status: 'ok', durationMs: round(first.tcpMs ?? 0), detail: `connected to ${fmt(proxy)}` });
    const offeredText = first.offered.map(describeMethod).join(', ');
    if (!first.greeting) {
      const end = first.end!;
      const how = 'how' in end ? end.how : 'closed';
      this.steps.push({ name: 'greeting', status: 'fail', detail: `offered ${offeredText}; no method selection: ${end.error}`, data: { offered: first.offered } });
      if (how === 'timeout') this.find('no_greeting_reply', `proxy never answered the greeting (no method selection within ${timeoutMs} ms)`);
      else if (how === 'protocol-error') this.find('protocol_error', `proxy answered the greeting with something that is not SOCKS5: ${end.error}`);
      else this.find('closed_at_greeting', 'proxy closed the connection right after the greeting without answering (silent close)');
      return this.report(false, 'FAIL: the SOCKS5 greeting fails');
    }
    const g = first.greeting;
    this.steps.push({
      name: 'greeting',
      status: g.method === Socks5Method.NoAcceptable ? 'fail' : 'ok',
      durationMs: round(g.ms),
      detail: `offered ${offeredText}; proxy chose ${describeMethod(g.method)}`,
      data: { offered: first.offered, chosen: g.method, chunks: g.chunks },
    });
    if (g.ms > slowMs) this.find('slow_handshake', `slow handshake: the proxy took ${Math.round(g.ms)} ms to answer the greeting`);
    this.noteFragments('method selection', g.chunks);
    return this.chosenMethod(g.method);
  }

  /** Whether the method the proxy chose lets the check go on. */
  private chosenMethod(method: number): CheckReport | undefined {
    const hasCreds = this.o.proxy.username !== undefined;
    if (method === Socks5Method.NoAcceptable) {
      this.find(
        'no_acceptable_method',
        hasCreds
          ? 'no acceptable authentication method: the proxy refused both no-auth (0x00) and username/password (0x02), reply 0xff'
          : 'no acceptable authentication method: the proxy refused no-auth (0x00), reply 0xff; it probably requires username/password — put credentials in the proxy URL',
      );
      return this.report(false, 'FAIL: the proxy accepts none of the offered authentication methods');
    }
    if (method !== Socks5Method.NoAuth && method !== Socks5Method.UsernamePassword) {
      this.find('protocol_error', `proxy chose ${describeMethod(method)}, which was not offered`);
      return this.report(false, 'FAIL: the proxy chose a method that was not offered');
    }
    if (method === Socks5Method.UsernamePassword && !hasCreds) {
      this.find('auth_required', 'the proxy requires username/password but none were given');
      return this.report(false, 'FAIL: credentials required');
    }
    return undefined;
  }

  /** The RFC 1929 step (skipped for no-auth); a report when the check ends there. */
  auth(first: Attempt): CheckReport | undefined {
    const user = this.o.proxy.username;
    if (first.greeting?.method !== Socks5Method.UsernamePassword) {
      this.steps.push({ name: 'auth', status: 'skip', detail: 'no authentication (method 0x00)' });
      return undefined;
    }
    if (!first.auth) {
      this.steps.push({ name: 'auth', status: 'fail', detail: `as ${user}: no status: ${first.end!.error}` });
      this.find('closed_at_auth', 'proxy closed the connection during username/password authentication without a status (silent close)');
      return this.report(false, 'FAIL: authentication did not complete');
    }
    const ok = first.auth.status === UserPassStatus.Success;
    this.steps.push({
      name: 'auth',
      status: ok ? 'ok' : 'fail',
      durationMs: round(first.auth.ms),
      detail: `RFC 1929 as ${user}: ${ok ? 'accepted (status 0x00)' : `rejected (status ${hexByte(first.auth.status)})`}`,
      data: { status: first.auth.status, chunks: first.auth.chunks },
    });
    this.noteFragments('authentication status', first.auth.chunks);
    if (ok) return undefined;
    this.find('auth_rejected', `authentication rejected: the proxy answered status ${hexByte(first.auth.status)} for user ${user} (wrong username or password, or the user is not allowed)`);
    return this.report(false, 'FAIL: authentication rejected');
  }

  /** A CONNECT step from an attempt's reply. */
  connectStep(name: CheckStep['name'], a: Attempt, dest: HostPort, atyp: Socks5Atyp): void {
    const label = `CONNECT ${fmt(dest)} (${atypLabel[atyp]})`;
    if (!a.reply) {
      this.steps.push({ name, status: 'fail', detail: `${label}: no reply: ${a.end && 'error' in a.end ? a.end.error : 'handshake failed'}` });
      return;
    }
    const ok = a.reply.code === Socks5Reply.Succeeded;
    this.steps.push({ name, status: ok ? 'ok' : 'fail', durationMs: round(a.reply.ms), detail: `${label}: reply ${describeReply(a.reply.code)}`, data: { replyCode: a.reply.code, chunks: a.reply.chunks } });
    this.noteFragments('CONNECT reply', a.reply.chunks);
    if (a.reply.ms > this.o.slowMs) this.find('slow_connect', `slow CONNECT: the proxy took ${Math.round(a.reply.ms)} ms to reply to ${label}`);
  }

  /** CONNECT by the target as given (normally a hostname); whether it succeeded. */
  hostnameConnect(first: Attempt): boolean {
    const { target, timeoutMs } = this.o;
    this.connectStep('connect-hostname', first, target, addressFor(target.host, target.port).atyp);
    if (!first.reply && first.end && first.end.stage === 'request') {
      if (first.end.how === 'timeout') this.find('no_request_reply', `proxy never answered the CONNECT request (${timeoutMs} ms)`);
      else this.find('closed_at_request', 'proxy closed the connection after the CONNECT request without replying (silent close)');
    }
    return first.reply?.code === Socks5Reply.Succeeded;
  }

  /** Speaks TLS or HTTP through the hostname tunnel and reports how the relay behaves. */
  async relay(first: Attempt): Promise<void> {
    const { probe, target, timeoutMs, minRateKBps } = this.o;
    if (!first.socket) return;
    const kind = probe === 'auto' ? (target.port === 443 ? 'tls' : 'http') : probe;
    if (kind === 'none') {
      first.socket.destroy();
      return;
    }
    const p = await probeRelay(first.socket, target, kind, timeoutMs);
    const rate = p.rateKBps !== undefined ? `, ${Math.round(p.rateKBps)} KB/s` : '';
    const endText = { fin: 'closed normally (FIN)', reset: 'RESET by the proxy', timeout: 'still open at the timeout', error: `error ${p.error ?? ''}` }[p.end];
    const relayOk = p.end !== 'reset' && p.end !== 'error' && p.bytes > 0;
    const slow = p.rateKBps !== undefined && p.rateKBps < minRateKBps;
    this.steps.push({
      name: 'relay',
      status: relayOk ? (slow ? 'warn' : 'ok') : p.end === 'timeout' ? 'warn' : 'fail',
      durationMs: round(p.totalMs),
      detail: `${kind === 'tls' ? 'TLS handshake + HTTP GET' : 'HTTP GET'} through the tunnel: ${p.bytes} bytes back${rate}, ${endText}${p.tlsError ? ` (TLS: ${p.tlsError})` : ''}`,
      data: { ...p },
    });
    if (p.end === 'reset') this.find('reset_during_relay', `connection reset by the proxy after ${p.bytes} bytes were relayed back`);
    else if (p.bytes === 0 && p.end === 'fin') this.find('closed_after_connect', 'proxy closed the tunnel right after a successful CONNECT without relaying anything');
    else if (p.bytes === 0 && p.end === 'timeout') this.find('relay_silent', `nothing came back through the tunnel within ${timeoutMs} ms (the target may wait for another protocol, or the proxy does not relay)`);
    if (slow) this.find('slow_relay', `slow relay: ${Math.round(p.rateKBps!)} KB/s through the proxy (bandwidth limited?)`);
  }

  /** The IPv4 and IPv6 destinations for the CONNECT-by-IP steps: given, resolved here, or the target itself. */
  async ipTargets(isDomain: boolean): Promise<{ v4?: HostPort; v6?: HostPort }> {
    const { target, lookup } = this.o;
    let v4 = this.o.targetIpv4;
    let v6 = this.o.targetIpv6;
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
    return { ...(v4 ? { v4 } : {}), ...(v6 ? { v6 } : {}) };
  }

  /** CONNECT by IPv4 then IPv6; the IPv4 reply code (what the hostname reply is compared with). */
  async ipConnects({ v4, v6 }: { v4?: HostPort; v6?: HostPort }): Promise<number | undefined> {
    let v4Code: number | undefined;
    for (const [name, dest, atyp] of [
      ['connect-ipv4', v4, 'ipv4'],
      ['connect-ipv6', v6, 'ipv6'],
    ] as const) {
      if (!dest) {
        this.steps.push({ name, status: 'skip', detail: `no ${atyp === 'ipv4' ? 'IPv4' : 'IPv6'} address for ${this.o.target.host} here (pass --target-ip${atyp === 'ipv6' ? '6' : ''})` });
        continue;
      }
      const a = await attempt(this.o.proxy, addressFor(dest.host, dest.port), this.o.timeoutMs);
      a.socket?.destroy();
      this.connectStep(name, a, dest, atyp);
      const code = a.reply?.code;
      if (atyp === 'ipv4') v4Code = code;
      if (atyp === 'ipv6' && code === Socks5Reply.AddressTypeNotSupported && v4Code === Socks5Reply.Succeeded) {
        this.find('ipv6_rejected', `proxy does not support IPv6: reply ${describeReply(code)} to an IPv6 CONNECT, IPv4 works`);
      }
    }
    return v4Code;
  }

  /** What a refused hostname CONNECT means, compared with the IPv4 one. */
  hostnameRefusal(hostCode: number | undefined, v4Code: number | undefined, isDomain: boolean): void {
    if (hostCode === undefined || hostCode === Socks5Reply.Succeeded) return;
    if (!isDomain) {
      this.find('reply_code', `proxy refuses the CONNECT: reply ${describeReply(hostCode)}`);
    } else if (hostCode === Socks5Reply.AddressTypeNotSupported && v4Code === Socks5Reply.Succeeded) {
      this.find('cannot_resolve_hostnames', `proxy cannot resolve hostnames: reply ${describeReply(hostCode)} to a domain CONNECT, IPv4 works`);
    } else if (hostCode === Socks5Reply.HostUnreachable && v4Code === Socks5Reply.Succeeded) {
      this.find('hostname_not_found', `the proxy cannot resolve ${this.o.target.host}: reply ${describeReply(hostCode)} to a domain CONNECT, IPv4 works (the name is missing from the proxy's DNS)`);
    } else {
      const ipText = v4Code === undefined ? 'IPv4 not tested' : v4Code === hostCode ? 'IPv4 gets the same reply' : `IPv4 gets ${describeReply(v4Code)}`;
      this.find('reply_code', `proxy refuses the CONNECT: reply ${describeReply(hostCode)} to a domain CONNECT (${ipText})`);
    }
  }

  verdict(hostnameWorks: boolean): string {
    const n = this.findings.length;
    if (!hostnameWorks) return 'FAIL: CONNECT by hostname does not work';
    return n === 0 ? 'OK: CONNECT by hostname works' : `OK with warnings: CONNECT by hostname works (${n} finding${n > 1 ? 's' : ''})`;
  }
}

export async function checkProxy(options: ProxyCheckOptions): Promise<CheckReport> {
  const settings: CheckSettings = {
    timeoutMs: 5000,
    slowMs: 1000,
    probe: 'auto',
    minRateKBps: 1000,
    lookup: (host) => dnsLookup(host, { all: true }),
    ...stripUndefined(options),
  };
  const { proxy, target, timeoutMs } = settings;
  const check = new ProxyCheck(settings);
  const first = await attempt(proxy, addressFor(target.host, target.port), timeoutMs);
  const early = check.greeting(first) ?? check.auth(first);
  if (early) return early;
  const isDomain = addressFor(target.host, target.port).atyp === 'domain';
  const hostnameWorks = check.hostnameConnect(first);
  if (hostnameWorks) await check.relay(first);
  const v4Code = await check.ipConnects(await check.ipTargets(isDomain));
  check.hostnameRefusal(first.reply?.code, v4Code, isDomain);
  return check.report(hostnameWorks && isDomain, check.verdict(hostnameWorks));
}

/** Options with `undefined` values dropped, so they do not override the defaults (as destructuring defaults did). */
function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
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
