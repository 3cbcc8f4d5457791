import { createLogger } from '../../log.js';
import { checkProxy, parseProxyUrl, renderCheckReport, } from '../../socks5/check.js';
import type { HostPort } from '../../net/host-port.js';
import { parseHostPort, type CustomerDnsRecords } from '../../test-proxy/customer-dns.js';
import { defaultCustomerDns, startCustomerServices, type CustomerServices } from '../../test-proxy/customer-services.js';
import { faultTypes } from '../../test-proxy/faults/registry.js';
import { createTestProxy, type TestProxyUser } from '../../test-proxy/proxy.js';
import { parseCommandArgs, usageFailure, UsageError, withUsage } from '../args.js';
import type { CliCommand, CliIo } from '../io.js';
import { argvSecretWarning, proxyUrlHasPassword, readFirstLine, readSecretFile, readSecretLine, userLines } from '../secret-input.js';

/**
 * `proxy serve` (the test proxy alone) and `proxy check` (diagnose any SOCKS5 proxy).
 */

const serveHelp = `Usage: sandbox-egress-emulator proxy serve [options]

Runs the SOCKS5 test proxy alone, until interrupted (Ctrl-C).

Options:
  --host <addr>       listen address (default 127.0.0.1)
  --port <n>          listen port (default 1080; 0 picks a free one)
  --user-file <f>     users, one USER:PASSWORD a line (also env SEE_PROXY_USERS, one a line)
  --user <u:p>        a user (repeatable; default proxy-user:proxy-pass); visible to every user in ps
  --no-auth           also accept clients that offer no authentication
  --map <NAME[:PORT]=HOST:PORT>
                      customer-side DNS: where a CONNECT to NAME goes (repeatable)
  --fault <json>      a fault, e.g. '{"type":"reject_domain_atyp"}' (repeatable);
                      types: ${faultTypes.join(', ')}
  --fixtures          also start the customer services (internal API, identify) and map them
  -h, --help          print this help
`;

const checkHelp = `Usage: sandbox-egress-emulator proxy check - --target host:port [options] < proxy-url
       sandbox-egress-emulator proxy check --proxy-url-file <f> --target host:port [options]
       SEE_PROXY_URL=… sandbox-egress-emulator proxy check --target host:port [options]
       sandbox-egress-emulator proxy check socks5://host:port --target host:port [options]

Diagnoses any SOCKS5 proxy step by step: methods, auth, CONNECT by hostname and by IP, reply codes
explained. Exits 0 when a CONNECT by hostname works, else 1.

The proxy URL is socks5://[user:pass@]host:port. With a password, give it on stdin (-), in a file
(--proxy-url-file) or in SEE_PROXY_URL: on the command line every user of this machine can read it
(ps), and the command warns.

Options:
  --proxy-url-file <f>      read the proxy URL from the first line of this file
  --target <host:port>      the destination, normally a hostname (required)
  --target-ip <ip[:port]>   IPv4 destination for the CONNECT-by-IP step (default: the target resolved here)
  --target-ip6 <ip[:port]>  IPv6 destination for the CONNECT-by-IPv6 step (default: the target resolved here)
  --timeout <ms>            per-step timeout (default 5000)
  --slow <ms>               report steps slower than this (default 1000)
  --probe <auto|tls|http|none>
                            what to speak through the tunnel (default auto: tls for port 443, else http)
  --json                    print the report as JSON
  -h, --help                print this help
`;

const usage = `Usage: sandbox-egress-emulator proxy <command> [options]

Commands:
  serve                 run the SOCKS5 test proxy alone
  check <proxy-url>     diagnose any SOCKS5 proxy step by step
  users [set U:P...]    the running emulator's test proxy users
  faults list|add|rm    the running emulator's test proxy faults (Toxiproxy-like)

Options:
  -h, --help            print this help

Run 'sandbox-egress-emulator proxy <command> --help' for a command's options.
`;

function parseUser(text: string): TestProxyUser {
  const i = text.indexOf(':');
  if (i <= 0 || i === text.length - 1) throw new UsageError('--user expects USER:PASSWORD');
  return { username: text.slice(0, i), password: text.slice(i + 1) };
}

function parseMap(text: string, into: CustomerDnsRecords): void {
  const i = text.indexOf('=');
  if (i <= 0) throw new UsageError(`--map expects NAME[:PORT]=HOST:PORT, got ${JSON.stringify(text)}`);
  into[text.slice(0, i)] = text.slice(i + 1);
}

function parseEndpoint(flag: string, text: string, defaultPort?: number): HostPort {
  const hp = parseHostPort(text, defaultPort);
  if (!hp) throw new UsageError(`${flag} expects host:port, got ${JSON.stringify(text)}`);
  return hp;
}

const intFlag = (flag: string, text: string | undefined, fallback: number): number => {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} expects a non-negative integer`);
  return n;
};

export async function serve(args: string[], io: CliIo, signal: AbortSignal): Promise<number> {
  const parsed = parseCommandArgs(io, serveHelp, {
    args,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '1080' },
      user: { type: 'string', multiple: true },
      'user-file': { type: 'string' },
      'no-auth': { type: 'boolean', default: false },
      map: { type: 'string', multiple: true },
      fault: { type: 'string', multiple: true },
      fixtures: { type: 'boolean', default: false },
    },
    allowPositionals: false,
  });
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const userSpecs = [
    ...(values['user-file'] ? userLines(readSecretFile('--user-file', values['user-file'])) : []),
    ...(io.env.SEE_PROXY_USERS ? userLines(io.env.SEE_PROXY_USERS) : []),
    ...(values.user ?? []),
  ];
  const users = userSpecs.length ? userSpecs.map(parseUser) : undefined;
  if (values.user?.length) io.stderr.write(argvSecretWarning('a password (--user)', '--user-file or SEE_PROXY_USERS'));
  const records: CustomerDnsRecords = {};
  let services: CustomerServices | undefined;
  const logger = createLogger({ destination: io.stderr });
  if (values.fixtures) {
    services = await startCustomerServices({ logger });
    Object.assign(records, defaultCustomerDns(services));
  }
  for (const m of values.map ?? []) parseMap(m, records);
  const faults = (values.fault ?? []).map((f) => {
    try {
      return JSON.parse(f) as unknown;
    } catch {
      throw new UsageError(`--fault expects JSON, e.g. '{"type":"reject_domain_atyp"}'`);
    }
  });
  let proxy;
  try {
    proxy = await createTestProxy({
      host: values.host,
      port: intFlag('--port', values.port, 1080),
      ...(users ? { users } : {}),
      auth: values['no-auth'] ? 'none' : 'required',
      customerDns: records,
      faults,
      logger,
    });
  } catch (err) {
    await services?.stop();
    throw err;
  }
  io.stdout.write(`SOCKS5 test proxy listening on ${proxy.address}\n`);
  io.stdout.write(`users: ${proxy.users.map((u) => u.username).join(', ')}${values['no-auth'] ? ' (no-auth accepted)' : ''}\n`);
  for (const [k, v] of Object.entries(proxy.customerDns)) io.stdout.write(`map: ${k} -> ${v}\n`);
  for (const f of proxy.faults.list()) io.stdout.write(`fault: ${JSON.stringify(f)}\n`);
  if (services) io.stdout.write(`fixture CA: ${services.caCertPath}\n`);
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await proxy.stop();
  await services?.stop();
  return 0;
}

export async function check(args: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(io, checkHelp, {
    args,
    options: {
      target: { type: 'string' },
      'proxy-url-file': { type: 'string' },
      'target-ip': { type: 'string' },
      'target-ip6': { type: 'string' },
      timeout: { type: 'string' },
      slow: { type: 'string' },
      probe: { type: 'string', default: 'auto' },
      json: { type: 'boolean', default: false },
    },
    allowPositionals: true,
  });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (positionals.length > 1) throw new UsageError('proxy check expects one proxy URL: socks5://[user:pass@]host:port');
  if (!values.target) throw new UsageError('--target host:port is required');
  const given = positionals[0];
  let url: string;
  if (given === '-') url = await readFirstLine(io.stdin ?? process.stdin, 'proxy check -');
  else if (given !== undefined) {
    if (proxyUrlHasPassword(given)) io.stderr.write(argvSecretWarning('the proxy password', "stdin ('-'), --proxy-url-file or SEE_PROXY_URL"));
    url = given;
  } else if (values['proxy-url-file']) url = readSecretLine('--proxy-url-file', values['proxy-url-file']);
  else if (io.env.SEE_PROXY_URL) url = io.env.SEE_PROXY_URL.trim();
  else throw new UsageError("proxy check expects a proxy URL: '-' (stdin), --proxy-url-file, SEE_PROXY_URL or socks5://host:port");
  let proxy;
  try {
    proxy = parseProxyUrl(url);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const target = parseEndpoint('--target', values.target);
  const probe = values.probe;
  if (probe !== 'auto' && probe !== 'tls' && probe !== 'http' && probe !== 'none') throw new UsageError('--probe is auto, tls, http or none');
  const report = await checkProxy({
    proxy,
    target,
    ...(values['target-ip'] ? { targetIpv4: parseEndpoint('--target-ip', values['target-ip'], target.port) } : {}),
    ...(values['target-ip6'] ? { targetIpv6: parseEndpoint('--target-ip6', values['target-ip6'], target.port) } : {}),
    timeoutMs: intFlag('--timeout', values.timeout, 5000),
    slowMs: intFlag('--slow', values.slow, 1000),
    probe,
  });
  io.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : renderCheckReport(report));
  return report.hostnameConnectWorks ? 0 : 1;
}

/** `proxy <serve|check> ...`; `serve` runs until SIGINT/SIGTERM. */
export const run: CliCommand = async (args, io) => {
  const [sub, ...rest] = args;
  if (sub === 'serve') {
    const ac = new AbortController();
    const stop = (): void => ac.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      return await withUsage(serveHelp, io, () => serve(rest, io, ac.signal));
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  }
  if (sub === 'check') return withUsage(checkHelp, io, () => check(rest, io));
  if (sub === 'users' || sub === 'faults') {
    const admin = await import('./proxy-admin.js');
    return sub === 'users' ? withUsage(admin.usersHelp, io, () => admin.usersCommand(rest, io)) : withUsage(admin.faultsHelp, io, () => admin.faultsCommand(rest, io));
  }
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    io.stdout.write(usage);
    return 0;
  }
  return usageFailure(io, usage, sub === undefined ? 'a command is required: serve, check, users or faults' : `unknown command "${sub}" for "sandbox-egress-emulator proxy"`);
};
