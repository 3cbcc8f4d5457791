import { parseArgs } from 'node:util';
import { EmulatorError } from '../../errors.js';
import { createLogger } from '../../log.js';
import { checkProxy, parseProxyUrl, renderCheckReport, type Endpoint } from '../../socks5/check.js';
import { parseHostPort, type CustomerDnsRecords } from '../../test-proxy/customer-dns.js';
import { defaultCustomerDns, startCustomerServices, type CustomerServices } from '../../test-proxy/customer-services.js';
import { faultTypes } from '../../test-proxy/faults/registry.js';
import { createTestProxy, type TestProxyUser } from '../../test-proxy/proxy.js';
import type { CliCommand, CliIo } from '../io.js';

/**
 * `proxy serve` (the test proxy alone) and `proxy check` (diagnose any SOCKS5 proxy).
 */

const usage = `usage:
  sandbox-egress-emulator proxy serve [--host H] [--port P] [--user U:P]... [--no-auth]
        [--map NAME[:PORT]=HOST:PORT]... [--fault JSON]... [--fixtures]
  sandbox-egress-emulator proxy check socks5://[user:pass@]host:port --target host:port
        [--target-ip IP[:PORT]] [--target-ip6 IP[:PORT]] [--timeout MS] [--slow MS]
        [--probe auto|tls|http|none] [--json]
fault types: ${faultTypes.join(', ')}
`;

class UsageError extends EmulatorError {
  constructor(message: string) {
    super('usage', message);
  }
}

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

function parseEndpoint(flag: string, text: string, defaultPort?: number): Endpoint {
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
  const { values } = parseArgs({
    args,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '1080' },
      user: { type: 'string', multiple: true },
      'no-auth': { type: 'boolean', default: false },
      map: { type: 'string', multiple: true },
      fault: { type: 'string', multiple: true },
      fixtures: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const users = values.user?.map(parseUser);
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
  const { values, positionals } = parseArgs({
    args,
    options: {
      target: { type: 'string' },
      'target-ip': { type: 'string' },
      'target-ip6': { type: 'string' },
      timeout: { type: 'string' },
      slow: { type: 'string' },
      probe: { type: 'string', default: 'auto' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length !== 1) throw new UsageError('proxy check expects one proxy URL: socks5://[user:pass@]host:port');
  if (!values.target) throw new UsageError('--target host:port is required');
  let proxy;
  try {
    proxy = parseProxyUrl(positionals[0]!);
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
  try {
    if (sub === 'serve') {
      const ac = new AbortController();
      const stop = (): void => ac.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        return await serve(rest, io, ac.signal);
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    }
    if (sub === 'check') return await check(rest, io);
    io.stderr.write(usage);
    return sub === undefined || sub === '--help' || sub === 'help' ? 0 : 2;
  } catch (err) {
    const e = err as Error & { code?: string };
    // parseArgs errors and our usage errors are the user's input: say what is wrong, show usage.
    if (e instanceof UsageError || e.code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`error: ${e.message}\n${usage}`);
      return 2;
    }
    io.stderr.write(`error: ${e.message}\n`);
    return 1;
  }
};
