import http from 'node:http';
import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { maxBodyBytes } from '../../../src/api/body.js';
import { isWebUiPath } from '../../../src/api/web-ui.js';
import { apiStatus } from '../../../src/api/error-status.js';
import { createLogger } from '../../../src/log.js';
import { docsPolicy } from '../../helpers/docs-policy.js';
import { api, useEmulator } from '../../helpers/emulator.js';
import {
  collectGarbage,
  deeplyNested,
  fuzz,
  hostileStrings,
  invalidUtf8,
  jsonPaths,
  mutateBytesMany,
  randomJson,
  randomString,
  setAtPath,
  wrongTypes,
  type Fuzz,
  type JsonPath,
} from '../../helpers/fuzz.js';
import { emulatorInternals } from '../../../src/internals.js';

/**
 * Hostile input at every API route, enumerated from the app (a new route with a body fails the
 * coverage check until it gets a seed body here). Bodies: wrong types at every known field, random
 * shapes, deep nesting, strings up to and past the body limit, invalid UTF-8, truncated and mutated
 * JSON, empty bodies, wrong content types, chunked uploads, prototype keys, duplicate keys. Path
 * parameters and query strings: hostile values. Every answer must be the JSON error envelope with a
 * code whose status matches, never a 5xx the reference does not document, within a time bound; the
 * emulator must stay healthy and its heap bounded.
 *
 * Safety: the sandbox that probes run from blocks all egress, so no fuzzed probe dials anything; context
 * commands are rewritten to a path that does not exist before they are sent.
 */

/** Any single request, however hostile, is answered within this. */
const requestTimeoutMs = 5_000;
/** Body-route iterations per route, and each route's time budget. */
const bodyIterations = 120;
const bodyBudgetMs = 600;
const pathIterations = 16;
const queryIterations = 150;
/** Live heap may grow by at most this much over the whole body fuzz (state is cleaned up as it goes). */
const heapGrowthLimitBytes = 64 * 1024 * 1024;
/** RSS keeps what the allocator does not hand back (1 MiB bodies), so its bound is looser. */
const rssGrowthLimitBytes = 256 * 1024 * 1024;
/** A command that cannot exist, so a fuzzed context never runs anything. */
const harmlessCommand = '/nonexistent/see-fuzz-command';

const logLines: string[] = [];
const logSink = new Writable({
  write(chunk, _encoding, done) {
    logLines.push(String(chunk));
    done();
  },
});
const emu = useEmulator({ logger: createLogger({ level: 'error', destination: logSink }) });
const client = api(() => emu.current);

interface Fixtures {
  /** One sandbox per route that takes one, so routes do not disturb each other. */
  networkSandbox: string;
  contextSandbox: string;
  hostsSandbox: string;
  /** Block-all, no rules: every probe from it is denied before anything is dialled. */
  probeSandbox: string;
  source: string;
}
let fixtures: Fixtures;

async function claim(): Promise<string> {
  const res = await client.post('/api/v1/sandboxes', { template: 'default' });
  expect(res.status).toBe(201);
  return res.json.data.sandbox_id as string;
}

async function createFixtures(): Promise<Fixtures> {
  const source = 'fuzz-src';
  const created = await client.post('/api/v1/credential-sources', { name: source, resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'proxy-user', password: 'proxy-pass' } } });
  expect(created.status).toBe(201);
  const [networkSandbox, contextSandbox, hostsSandbox, probeSandbox] = await Promise.all([claim(), claim(), claim(), claim()]);
  const blocked = await client.put(`/api/v1/sandboxes/${probeSandbox}/network`, { mode: 'block-all' });
  expect(blocked.status).toBe(200);
  return { networkSandbox: networkSandbox!, contextSandbox: contextSandbox!, hostsSandbox: hostsSandbox!, probeSandbox: probeSandbox!, source };
}

beforeAll(async () => {
  fixtures = await createFixtures();
});

interface Answer {
  status: number;
  contentType: string | null;
  text: string;
  ms: number;
}

type Body = Buffer | { chunks: Buffer[] } | undefined;

async function send(method: string, path: string, body: Body, headers: Record<string, string> = {}): Promise<Answer> {
  const started = performance.now();
  let payload: Uint8Array | ReadableStream<Uint8Array> | undefined;
  if (Buffer.isBuffer(body)) payload = new Uint8Array(body);
  else if (body) {
    // A stream has no length, so it goes out chunked: the limit must hold while reading.
    const chunks = body.chunks;
    payload = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next) controller.enqueue(new Uint8Array(next));
        else controller.close();
      },
    });
  }
  const res = await fetch(emu.current.apiUrl + path, {
    method,
    headers: { authorization: `Bearer ${emu.current.token}`, ...headers },
    body: payload,
    signal: AbortSignal.timeout(requestTimeoutMs),
    ...(payload instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit);
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type'), text, ms: performance.now() - started };
}

/** A request whose path is sent exactly as given (fetch would resolve `..` segments). */
function sendRawPath(method: string, path: string, body?: Buffer): Promise<Answer> {
  const started = performance.now();
  const url = new URL(emu.current.apiUrl);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        agent: false,
        timeout: requestTimeoutMs,
        headers: { authorization: `Bearer ${emu.current.token}`, ...(body ? { 'content-type': 'application/json', 'content-length': body.length } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'] ?? null, text: Buffer.concat(chunks).toString(), ms: performance.now() - started }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${requestTimeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Texts that only come from a bug leaking out (a JS exception's message or a stack). */
const internalLeak = /TypeError|ReferenceError|RangeError|SyntaxError|Cannot read prop|is not a function|is not iterable|undefined is not|Maximum call stack|\bat [\w.<>]+ \(|node_modules|\.ts:\d+/;

interface Envelope {
  success: boolean;
  data?: unknown;
  error?: { code: string; message: string; details?: unknown };
}

/**
 * The answer is the specified envelope: JSON, `success` matching the status, an error code whose
 * status (the one table in src/errors.ts) is the HTTP status, a message that is not a leaked
 * exception, in bounded time, and no 5xx unless `documented5xx` (matched against `code message`)
 * allows it.
 */
/** The web view's page (`GET /`), which is HTML by design. */
const isWebViewPage = (answer: Answer) => answer.status === 200 && /^text\/html/.test(answer.contentType ?? '') && answer.text.includes('/_emulator/ui/app.js');

function expectEnvelope(answer: Answer, where: string, documented5xx?: RegExp): Envelope {
  expect(answer.ms, `${where}: took ${Math.round(answer.ms)} ms`).toBeLessThan(requestTimeoutMs);
  expect(answer.contentType ?? '', `${where}: content type of ${answer.status} ${answer.text.slice(0, 200)}`).toMatch(/^application\/json/);
  let json: Envelope;
  try {
    json = JSON.parse(answer.text) as Envelope;
  } catch {
    throw new Error(`${where}: status ${answer.status} with a body that is not JSON: ${answer.text.slice(0, 200)}`);
  }
  if (answer.status < 400) {
    expect(json.success, `${where}: ${answer.text.slice(0, 300)}`).toBe(true);
    return json;
  }
  expect(json.success, where).toBe(false);
  const { code, message } = json.error ?? ({} as { code?: string; message?: string });
  const summary = `${where}: ${answer.status} ${code} ${String(message).slice(0, 300)}`;
  expect(typeof code === 'string' && code in apiStatus, summary).toBe(true);
  expect(apiStatus[code as keyof typeof apiStatus], summary).toBe(answer.status);
  expect(typeof message === 'string' && message.length > 0, summary).toBe(true);
  expect(message, summary).not.toMatch(internalLeak);
  if (answer.status >= 500) expect(documented5xx !== undefined && documented5xx.test(`${code} ${message}`), `undocumented 5xx: ${summary}`).toBe(true);
  return json;
}

async function expectHealthy(where: string): Promise<void> {
  const res = await client.get('/healthz');
  expect(res.status, `${where}: /healthz`).toBe(200);
  const admin = await client.get('/_emulator/health');
  expect(admin.json?.data?.status, `${where}: /_emulator/health`).toBe('ok');
  const unhandled = logLines.filter((l) => l.includes('unhandled'));
  expect(unhandled, `${where}: unhandled errors were logged`).toEqual([]);
}

interface BodyRoute {
  /** A valid body; the fuzzer mutates it. */
  seed: () => unknown;
  params?: () => Record<string, string>;
  /** The 5xx answers the reference documents for this route, as `code message`. */
  documented5xx?: RegExp;
  /** Keeps state bounded: undoes what an accepted request created. */
  cleanup?: (data: any) => Promise<void>;
  /** Rewrites a body whose acceptance would be unsafe (runs on the exact bytes the server decodes). */
  guard?: (bytes: Buffer) => Buffer;
  /** Restores what the route replaced, after the route's run. */
  restore?: () => Promise<void>;
  /** The route never reads its body, so only a declared Content-Length over the limit is refused. */
  ignoresBody?: boolean;
}

async function expectOk(res: Promise<{ status: number; text: string }>, what: string): Promise<void> {
  const r = await res;
  expect(r.status, `${what}: ${r.text.slice(0, 200)}`).toBeLessThan(300);
}

/** A context body that would run anything other than `harmlessCommand` gets that command instead. */
function harmlessContext(bytes: Buffer): Buffer {
  let parsed: any;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    return bytes;
  }
  const command = parsed?.cmd?.command;
  if (!Array.isArray(command) || command.length === 0 || command[0] === harmlessCommand) return bytes;
  parsed.cmd.command = [harmlessCommand, ...command.slice(1)];
  return Buffer.from(JSON.stringify(parsed));
}

/** Seeds and safety rules per body route; `loadViews` reads the views that two of the seeds are. */
function bodyRoutes(): { routes: Record<string, BodyRoute>; loadViews: () => Promise<void> } {
  let platformRecords: unknown;
  let customerRecords: unknown;
  const loadViews = async () => {
    platformRecords = (await client.get('/_emulator/dns/platform')).json.data;
    customerRecords = (await client.get('/_emulator/dns/customer')).json.data;
  };
  const routes: Record<string, BodyRoute> = {
    'POST /api/v1/sandboxes': {
      seed: () => ({
        template: 'default',
        config: {
          env_vars: { FUZZ: '1' },
          resources: { memory: '1Gi' },
          ttl: 600,
          hard_ttl: 3600,
          network: docsPolicy(fixtures.source),
          webhook: { url: 'https://hook.example.com/events', secret: 's', watch_dir: '/tmp' },
          auto_resume: false,
          services: [],
        },
      }),
      cleanup: (data) => expectOk(client.delete(`/api/v1/sandboxes/${percentEncode(data.sandbox_id)}`), 'delete a fuzz-claimed sandbox'),
    },
    'PUT /api/v1/sandboxes/:id/network': {
      seed: () => {
        const policy = docsPolicy(fixtures.source);
        policy.egress.trafficRules.push({ name: 'cidrs', action: 'allow', cidrs: ['198.18.0.0/15'], ports: [{ port: 8000, endPort: 8100, protocol: 'udp' }] } as never);
        return policy;
      },
      params: () => ({ id: fixtures.networkSandbox }),
      // Reference §1.4 step 7: a binding naming a source that does not exist.
      documented5xx: /^internal_error failed to update network policy: update pod annotations: stage credential bindings: credential source ".*" not found$/s,
    },
    'POST /api/v1/credential-sources': {
      seed: () => ({ name: 'fuzz-created', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'u', password: 'p' } } }),
      cleanup: (data) => expectOk(client.delete(`/api/v1/credential-sources/${percentEncode(data.name)}`), 'delete a fuzz-created source'),
    },
    'PUT /api/v1/credential-sources/:name': {
      seed: () => ({ name: fixtures.source, resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'proxy-user', password: 'proxy-pass' } } }),
      params: () => ({ name: fixtures.source }),
    },
    'POST /api/v1/sandboxes/:id/contexts': {
      seed: () => ({ type: 'cmd', cmd: { command: [harmlessCommand, '--flag'] }, wait_until_done: true, cwd: '/', env_vars: { FUZZ: '1' }, pty_size: { rows: 24, cols: 80 }, idle_timeout_sec: 0, ttl_sec: 5 }),
      params: () => ({ id: fixtures.contextSandbox }),
      // Reference §1.6: procd answers 500 create_failed when the command cannot be started.
      documented5xx: /^create_failed /,
      guard: harmlessContext,
    },
    'PUT /_emulator/sandboxes/:id/hosts': {
      seed: () => ({ hosts: { 'fuzz.example.com': ['198.18.0.20'], 'v6.example.com': ['2001:db8::20'] } }),
      params: () => ({ id: fixtures.hostsSandbox }),
    },
    'POST /_emulator/sandboxes/:id/evaluate': {
      seed: () => ({ host: 'api.internal.example.com', port: 443, transport: 'tcp', appProtocol: 'tls' }),
      params: () => ({ id: fixtures.probeSandbox }),
    },
    'POST /_emulator/sandboxes/:id/evaluate/story': {
      seed: () => ({ host: 'api.internal.example.com', port: 443, transport: 'tcp', appProtocol: 'tls' }),
      params: () => ({ id: fixtures.probeSandbox }),
    },
    'POST /_emulator/sandboxes/:id/probe': {
      seed: () => ({ host: 'api.internal.example.com', port: 443, transport: 'tcp', send: 'raw', data: Buffer.from('hello').toString('base64'), timeoutMs: 500 }),
      params: () => ({ id: fixtures.probeSandbox }),
    },
    'PUT /_emulator/dns/platform': {
      seed: () => platformRecords,
      restore: () => expectOk(client.put('/_emulator/dns/platform', platformRecords), 'restore the platform view'),
    },
    'POST /_emulator/proxy/faults': {
      seed: () => ({ name: 'fuzz-fault', type: 'reply_code', toxicity: 0.5, attributes: { code: 2 }, match: { host: 'nothing.example.com', port: 1 } }),
      cleanup: (data) => expectOk(client.delete(`/_emulator/proxy/faults/${percentEncode(data.name)}`), 'delete a fuzz-added fault'),
    },
    'PUT /_emulator/proxy/users': {
      seed: () => ({ users: [{ username: 'proxy-user', password: 'proxy-pass' }] }),
      restore: () => expectOk(client.put('/_emulator/proxy/users', { users: [{ username: 'proxy-user', password: 'proxy-pass' }] }), 'restore the proxy users'),
    },
    'PUT /_emulator/dns/customer': {
      seed: () => customerRecords,
      restore: () => expectOk(client.put('/_emulator/dns/customer', customerRecords), 'restore the customer view'),
    },
    // Creating a tenant takes no body: whatever is sent, a new tenant.
    'POST /_emulator/tenants': {
      seed: () => ({}),
      ignoresBody: true,
      restore: async () => {},
    },
    // Reset takes no body: whatever is sent, it resets. Run last, and the fixtures are made again.
    'POST /_emulator/reset': {
      seed: () => ({}),
      ignoresBody: true,
      restore: async () => {
        fixtures = await createFixtures();
      },
    },
  };
  return { routes, loadViews };
}

const bodyMethods = ['POST', 'PUT', 'PATCH'];

function enumeratedRoutes(): { method: string; path: string }[] {
  const seen = new Map<string, { method: string; path: string }>();
  for (const r of emulatorInternals(emu.current).app.routes) if (r.method !== 'ALL') seen.set(`${r.method} ${r.path}`, { method: r.method, path: r.path });
  return [...seen.values()];
}

/**
 * Percent-encodes the UTF-8 bytes of `s` (an unpaired surrogate becomes U+FFFD, where
 * encodeURIComponent would throw), leaving `keep` characters as they are.
 */
function percentEncode(s: string, keep = /[A-Za-z0-9\-_.~]/): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += byte < 0x80 && keep.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const fillPath = (path: string, params: Record<string, string>) => path.replace(/:([A-Za-z_]+)/g, (_, name: string) => percentEncode(params[name] ?? 'x'));

/** Puts `slot` (raw JSON text or bytes) at `path` of `seed`, as bytes. */
function withSlot(seed: unknown, path: JsonPath, slot: Buffer | string): Buffer {
  const marker = '\u0001fuzz-slot\u0001';
  const text = JSON.stringify(setAtPath(seed, path, marker));
  const quoted = JSON.stringify(marker);
  const at = text.indexOf(quoted);
  return Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.isBuffer(slot) ? slot : Buffer.from(slot), Buffer.from(text.slice(at + quoted.length))]);
}

interface FuzzCase {
  kind: string;
  body: Body;
  headers: Record<string, string>;
  /** The body's size in bytes (for a chunked body, the server only learns it while reading). */
  bytes: number;
}

const contentTypes = ['application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream', '', 'application/json; charset=latin1'];
/** Number texts JSON.stringify never writes, valid or not. */
const numberTexts = ['1e400', '-1e400', '-0', '0.0', '1.0', '123456789012345678901234567890', '1e-400', '01', '+1', 'NaN', 'Infinity', '0x10', '.5', '1.', '- 1', '2147483648', '-2147483649', '4e9'];

/** Object paths of `seed` (where a new key can go), the root included. */
const objectPaths = (seed: unknown): JsonPath[] =>
  [[] as JsonPath, ...jsonPaths(seed)].filter((p) => {
    let v: any = seed;
    for (const k of p) v = v?.[k];
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  });

function makeCase(f: Fuzz, seed: unknown, i: number): FuzzCase {
  const json = (v: unknown) => Buffer.from(JSON.stringify(v) ?? 'null');
  const paths = [[] as JsonPath, ...jsonPaths(seed)];
  const anyPath = (): JsonPath => (f.chance(0.3) ? [...f.pick(objectPaths(seed)), randomString(f, 10)] : f.pick(paths));
  const done = (kind: string, body: Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }): FuzzCase => ({ kind, body, headers, bytes: body.length });
  // Large bodies cost time: a few per route, at fixed iterations.
  if (i % 40 === 11) {
    const under = f.chance(0.5);
    const path = f.pick(objectPaths(seed)).concat('huge');
    const base = withSlot(seed, path, '""').length;
    // A 3-byte character tells bytes from characters: the limit is in bytes.
    const unit = f.chance(0.5) ? '€' : 'x';
    const count = Math.floor((maxBodyBytes - base + (under ? -16 : 64)) / Buffer.byteLength(unit));
    return done(under ? 'huge-string-under-limit' : 'huge-string-over-limit', withSlot(seed, path, JSON.stringify(unit.repeat(count))));
  }
  if (i % 40 === 23) {
    const over = f.chance(0.5);
    const total = over ? maxBodyBytes + 4096 : 64 * 1024;
    const text = Buffer.concat([Buffer.from('{"pad":"'), Buffer.alloc(total, 'p'), Buffer.from('"}')]);
    const chunks: Buffer[] = [];
    for (let at = 0; at < text.length; ) {
      const n = f.between(1, 256 * 1024);
      chunks.push(text.subarray(at, at + n));
      at += n;
    }
    return { kind: over ? 'chunked-over-limit' : 'chunked', body: { chunks }, headers: { 'content-type': 'application/json' }, bytes: text.length };
  }
  switch (f.int(14)) {
    case 0:
      return done('valid', json(seed));
    case 1:
    case 2: {
      const path = f.pick(paths.length > 1 ? paths.slice(1) : paths);
      return done('wrong-type', json(setAtPath(seed, path, f.pick(wrongTypes(f)))));
    }
    case 3:
      return done('random-value', json(setAtPath(seed, anyPath(), randomJson(f, 3))));
    case 4:
      return done('random-root', json(randomJson(f, 4)));
    case 5: {
      const depth = f.pick([64, 1_000, 10_000, 10_001, 100_000]);
      return done(`deep-${depth}`, withSlot(seed, anyPath(), deeplyNested(depth, f.chance(0.5) ? 'array' : 'object')));
    }
    case 6:
      return done('invalid-utf8', withSlot(seed, anyPath(), Buffer.concat([Buffer.from('"a'), f.pick(invalidUtf8), Buffer.from('b"')])));
    case 7: {
      const text = json(f.chance(0.5) ? seed : setAtPath(seed, anyPath(), randomJson(f, 2)));
      return done('truncated', text.subarray(0, f.int(text.length)));
    }
    case 8:
      return done('mutated-text', mutateBytesMany(f, json(seed)));
    case 9:
      return done('empty', Buffer.from(f.pick(['', ' ', '\n\t ', '\u00a0', '\ufeff'])));
    case 10: {
      const type = f.pick(contentTypes);
      return done('content-type', json(f.chance(0.5) ? seed : randomJson(f, 2)), type ? { 'content-type': type } : {});
    }
    case 11: {
      const at = f.pick(objectPaths(seed));
      const key = f.pick(['__proto__', 'constructor', 'prototype', '__defineGetter__', 'toString', 'valueOf', 'hasOwnProperty']);
      return done('prototype-key', json(setAtPath(seed, [...at, key], f.chance(0.5) ? { polluted: true, toString: 1 } : randomJson(f, 2))));
    }
    case 12: {
      // Duplicate keys: the last one wins in Go and in JSON.parse; a hostile value first.
      const text = JSON.stringify(seed);
      const key = f.pick(Object.keys((seed as object) ?? {}).concat('x'));
      const dup = `${JSON.stringify(key)}:${JSON.stringify(randomJson(f, 2)) ?? 'null'},`;
      return done('duplicate-key', Buffer.from(text.startsWith('{') && text !== '{}' ? `{${dup}${text.slice(1)}` : text));
    }
    default:
      return done('number-text', withSlot(seed, anyPath(), f.pick(numberTexts)));
  }
}

describe('API fuzz', () => {
  it('every body route answers hostile bodies with the error envelope, never an undocumented 5xx', async () => {
    const routes = enumeratedRoutes().filter((r) => bodyMethods.includes(r.method));
    const { routes: specs, loadViews } = bodyRoutes();
    const missing = routes.filter((r) => !specs[`${r.method} ${r.path}`]).map((r) => `${r.method} ${r.path}`);
    expect(missing, 'routes with a body need a seed in bodyRoutes()').toEqual([]);
    expect(routes.length).toBeGreaterThanOrEqual(12);
    await loadViews();
    // Reset last: it wipes the fixtures every other route uses.
    const order = [...routes.filter((r) => r.path !== '/_emulator/reset'), ...routes.filter((r) => r.path === '/_emulator/reset')];

    collectGarbage();
    const heapBefore = process.memoryUsage().heapUsed;
    const rssBefore = process.memoryUsage().rss;
    const stats: Record<string, { sent: number; statuses: Record<number, number>; slowestMs: number }> = {};
    for (const [index, route] of order.entries()) {
      const key = `${route.method} ${route.path}`;
      const spec = specs[key]!;
      const f = fuzz(`api body ${key}`, { seed: 0xa91f0 + index, iterations: route.path === '/_emulator/reset' ? 12 : bodyIterations, budgetMs: bodyBudgetMs });
      const stat: (typeof stats)[string] = (stats[key] = { sent: 0, statuses: {}, slowestMs: 0 });
      await f.loop(async (i) => {
        const c = makeCase(f, spec.seed(), i);
        if (spec.guard && Buffer.isBuffer(c.body)) c.body = spec.guard(c.body);
        const path = fillPath(route.path, spec.params?.() ?? {});
        const where = f.where(`${key} ${c.kind} ${Buffer.isBuffer(c.body) ? c.body.subarray(0, 160).toString() : `${c.bytes} bytes chunked`}`);
        const answer = await send(route.method, path, c.body, c.headers);
        stat.sent++;
        stat.statuses[answer.status] = (stat.statuses[answer.status] ?? 0) + 1;
        stat.slowestMs = Math.max(stat.slowestMs, answer.ms);
        const envelope = expectEnvelope(answer, where, spec.documented5xx);
        if (c.bytes > maxBodyBytes && !(spec.ignoresBody && !Buffer.isBuffer(c.body))) {
          expect(answer.status, where).toBe(413);
          expect(envelope.error?.message, where).toBe(`request body too large (limit ${maxBodyBytes} bytes)`);
        }
        if (answer.status < 300 && spec.cleanup) await spec.cleanup(envelope.data);
        // The same bad request gets the same answer (messages are stable, not built from state or time).
        if (answer.status === 400 && i % 3 === 0 && Buffer.isBuffer(c.body)) {
          const again = await send(route.method, path, c.body, c.headers);
          expect(`${again.status} ${again.text}`, `${where}: replayed`).toBe(`${answer.status} ${answer.text}`);
        }
      });
      await spec.restore?.();
      await expectHealthy(key);
    }
    collectGarbage();
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    if (process.env.SEE_FUZZ_VERBOSE) console.log(JSON.stringify({ stats, heapGrowthMiB: heapGrowth / 2 ** 20, rssGrowthMiB: rssGrowth / 2 ** 20 }, null, 1));
    expect(heapGrowth, `live heap grew by ${Math.round(heapGrowth / 2 ** 20)} MiB`).toBeLessThan(heapGrowthLimitBytes);
    expect(rssGrowth, `RSS grew by ${Math.round(rssGrowth / 2 ** 20)} MiB`).toBeLessThan(rssGrowthLimitBytes);
  });

  it('hostile path parameters get a 4xx (or a documented answer), never a 5xx', async () => {
    const { routes: specs } = bodyRoutes();
    const routes = enumeratedRoutes().filter((r) => r.path.includes('/:') && r.path !== '/_emulator/reset');
    expect(routes.length).toBeGreaterThan(10);
    const f = fuzz('api path params', { seed: 0xba5e, iterations: pathIterations * routes.length, budgetMs: 6_000 });
    const extra = ['x'.repeat(4096), '..', '../..', '../../_emulator/info', 'sb-' + '0'.repeat(16), '%', '%zz', '%ff', '%c0%af', '%00', '%2e%2e%2f', '\u0000', 'a/b', 'ü'.repeat(300)];
    await f.loop(async (i) => {
      const route = routes[i % routes.length]!;
      const id = f.chance(0.4) ? f.pick(extra) : f.chance(0.5) ? f.pick(hostileStrings) : randomString(f, 64);
      const spec = specs[`${route.method} ${route.path}`];
      const body = bodyMethods.includes(route.method) ? Buffer.from(JSON.stringify(spec?.seed() ?? {})) : undefined;
      // Half are percent-encoded as a client library would; half go as raw as HTTP allows, so the
      // router's own decoding (`%zz`, `..`, `%00`) is exercised too.
      const raw = f.chance(0.5);
      const value = raw ? percentEncode(id, /[\x21-\x7e]/).replace(/[?#]/g, (ch) => percentEncode(ch)) : percentEncode(id);
      const path = route.path.replace(/:([A-Za-z_]+)/g, () => value);
      const where = f.where(`${route.method} ${path.slice(0, 200)}`);
      const answer = raw ? await sendRawPath(route.method, path, body) : await send(route.method, path, body, { 'content-type': 'application/json' });
      // @hono/node-server refuses a backslash in the path itself, before the app: a bare 400.
      if (raw && path.includes('\\') && answer.status === 400 && answer.text === '') return;
      // A raw `..` path can resolve to `/`, the web view's page (static HTML, no token).
      if (raw && isWebViewPage(answer)) return;
      expectEnvelope(answer, where);
    });
    // A path longer than Node's header limit is refused by the HTTP parser itself, and the server stays up.
    const huge = await sendRawPath('GET', `/api/v1/sandboxes/${'x'.repeat(100_000)}`).catch((err: Error) => ({ status: 0, error: err.message }));
    expect([0, 414, 431]).toContain(huge.status);
    await expectHealthy('path params');
  });

  it('hostile query strings on GET routes get a 4xx or a page, never a 5xx', async () => {
    const routes = enumeratedRoutes().filter((r) => r.method === 'GET');
    // watch / follow stream forever by design; their parameters are checked without them.
    const keys = ['status', 'template_id', 'paused', 'limit', 'offset', 'start_time', 'end_time', 'cursor', 'event_type', 'outcome', 'action', 'phase', 'user', 'host', 'atyp', 'replyCode', 'state', 'afterId', 'sandbox', 'sandbox_id', 'x'];
    const values = ['', '0', '-1', '1', '200', '201', '1000', '1001', '99999999999999999999', '1.5', 'abc', 'true', 'running', '2024-01-01T00:00:00Z', 'not-a-date', 'eyJzZXEiOi0xfQ', 'eyJzZXEiOjF9', '!!!', 'network_audit', 'denied', 'ipv4', 'open', '255', '256'];
    const f = fuzz('api query strings', { seed: 0x9e41, iterations: queryIterations, budgetMs: 4_000 });
    await f.loop(async () => {
      const route = f.pick(routes);
      const params = new URLSearchParams();
      for (let n = f.between(1, 4); n > 0; n--) params.append(f.pick(keys), f.chance(0.6) ? f.pick(values) : randomString(f, 40));
      const path = `${fillPath(route.path, { id: fixtures.networkSandbox, name: fixtures.source, ctx: 'ctx-0' })}?${params}`;
      const answer = await send('GET', path, undefined);
      const where = f.where(`GET ${path.slice(0, 200)}`);
      // The OpenAPI document is served as OpenAPI tools read it, not in the envelope; it reads no query.
      // The web view's static files read no query either.
      if (route.path === '/' || isWebUiPath(route.path)) expect([200, 404], where).toContain(answer.status);
      else if (route.path === '/_emulator/openapi.json') expect(`${answer.status} ${(JSON.parse(answer.text) as { openapi?: string }).openapi}`, where).toMatch(/^200 3\./);
      // So is the scenario file's JSON Schema.
      else if (route.path === '/_emulator/scenario.schema.json') expect(`${answer.status} ${(JSON.parse(answer.text) as { $schema?: string }).$schema}`, where).toMatch(/^200 https:\/\/json-schema\.org\//);
      else expectEnvelope(answer, where);
    });
    await expectHealthy('query strings');
  });
});
