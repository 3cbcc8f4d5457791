import { Ajv2020 } from 'ajv/dist/2020.js';
import { beforeAll, describe, expect, it } from 'vitest';
import type { JsonSchema, OpenApiDocument, OpenApiOperation } from '../../../src/api/admin/admin-openapi.js';
import { evaluateBody, probeBody } from '../../../src/api/admin/sandbox-routes.js';
import type { Emulator } from '../../../src/emulator.js';
import { defaultTestProxyUsers } from '../../../src/test-proxy/proxy.js';
import { createDocsSandbox } from '../../helpers/docs-policy.js';
import { api, useEmulator, waitForEvent } from '../../helpers/emulator.js';
import { emulatorInternals } from '../../../src/internals.js';

/**
 * `GET /_emulator/openapi.json`: served behind the token, and describing exactly the admin routes the
 * app serves (enumerated from the app itself, with and without the test proxy, so a route added without
 * a description, or a description left behind by a removed route, fails here). Its request schemas
 * accept and reject what the routes do, and the real responses fit its response schemas.
 */
const withProxy = useEmulator();
const withoutProxy = useEmulator({ testProxy: false });

const adminPath = (honoPath: string) => honoPath.replace(/:([A-Za-z_]+)/g, '{$1}');

/** `METHOD /_emulator/...` of every admin route the app serves. */
function servedRoutes(emu: Emulator): string[] {
  // The web view's static files (`/_emulator/ui`) are a page, not API routes.
  const routes = emulatorInternals(emu).app.routes.filter((r) => r.method !== 'ALL' && r.path.startsWith('/_emulator/') && !r.path.startsWith('/_emulator/ui'));
  return [...new Set(routes.map((r) => `${r.method} ${adminPath(r.path)}`))].sort();
}

function documentedRoutes(doc: OpenApiDocument): string[] {
  return Object.entries(doc.paths)
    .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
    .sort();
}

async function fetchDocument(emu: Emulator): Promise<OpenApiDocument> {
  const res = await fetch(`${emu.apiUrl}/_emulator/openapi.json`, { headers: { authorization: `Bearer ${emu.token}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return (await res.json()) as OpenApiDocument;
}

function operation(doc: OpenApiDocument, method: string, path: string): OpenApiOperation {
  const op = doc.paths[path]?.[method as keyof OpenApiDocument['paths'][string]];
  if (!op) throw new Error(`${method.toUpperCase()} ${path} is not in the document`);
  return op;
}

const schema = (doc: OpenApiDocument, name: string): JsonSchema => {
  const s = doc.components.schemas[name];
  if (!s) throw new Error(`no schema ${name}`);
  return s;
};
const props = (s: JsonSchema) => s.properties as Record<string, JsonSchema>;
/** The object schemas of a `oneOf`, by the `const` of their `key` property. */
const variant = (s: JsonSchema, key: string, value: unknown) => (s.oneOf as JsonSchema[]).find((v) => props(v)[key]?.const === value)!;

describe('GET /_emulator/openapi.json', () => {
  let doc: OpenApiDocument;
  beforeAll(async () => {
    doc = await fetchDocument(withProxy.current);
  });

  it('needs the bearer token, like every admin route but health', async () => {
    const url = `${withProxy.current.apiUrl}/_emulator/openapi.json`;
    const variants: Record<string, string>[] = [{}, { authorization: 'Bearer s0_local_' + '0'.repeat(48) }];
    for (const headers of variants) {
      const res = await fetch(url, { headers });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ success: false, error: { code: 'unauthorized' } });
    }
    expect(doc.openapi.startsWith('3.')).toBe(true);
    expect(doc.info.version).toBe((await api(() => withProxy.current).get('/_emulator/info')).json.data.version);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    // Health is the one route without a token; no other operation opts out.
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const op of Object.values(item)) expect(op.security, path).toEqual(path === '/_emulator/health' ? [] : undefined);
    }
  });

  it('is in the typed admin client', async () => {
    const res = await withProxy.current.admin['openapi.json'].$get();
    expect(res.status).toBe(200);
    const body = await res.json();
    // Typed as the document (or, for a failure, the error envelope).
    if (!('openapi' in body)) throw new Error(`expected the document: ${JSON.stringify(body)}`);
    expect(body.openapi).toBe(doc.openapi);
    expect(Object.keys(body.paths)).toEqual(Object.keys(doc.paths));
  });

  it('describes every admin route the app serves, and no other, with or without the test proxy', async () => {
    const served = servedRoutes(withProxy.current);
    expect(served.length).toBeGreaterThan(15);
    expect(served).toContain('GET /_emulator/openapi.json');
    expect(documentedRoutes(doc)).toEqual(served);

    const bare = await fetchDocument(withoutProxy.current);
    const bareServed = servedRoutes(withoutProxy.current);
    expect(bareServed.some((r) => r.includes('/proxy/'))).toBe(false);
    expect(documentedRoutes(bare)).toEqual(bareServed);
  });

  it('gives every operation a summary, its path parameters, a success response and the error envelope', () => {
    const operationIds = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const where = `${method.toUpperCase()} ${path}`;
        expect(op.summary, where).toMatch(/\w/);
        expect(operationIds.has(op.operationId), where).toBe(false);
        operationIds.add(op.operationId);
        const pathParams = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
        expect((op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name), where).toEqual(pathParams);
        const success = Object.entries(op.responses).filter(([status]) => status.startsWith('2'));
        expect(success.length, where).toBeGreaterThan(0);
        for (const [, response] of success) expect('content' in response && response.content?.['application/json'], where).toBeTruthy();
        if (path !== '/_emulator/health') expect(op.responses['401'], where).toEqual({ $ref: '#/components/responses/Unauthorized' });
        if (path.includes('{')) expect(op.responses['404'], where).toEqual({ $ref: '#/components/responses/NotFound' });
        if (op.requestBody) expect(op.responses['400'], where).toEqual({ $ref: '#/components/responses/BadRequest' });
      }
    }
    expect(doc.components.responses.Unauthorized!.content['application/json']!.schema).toEqual({ $ref: '#/components/schemas/ErrorEnvelope' });
    expect(props(props(schema(doc, 'ErrorEnvelope')).error!).code!.enum).toContain('unauthorized');
  });

  it('describes the query parameters of flows and of the connection log', () => {
    const flows = operation(doc, 'get', '/_emulator/flows');
    const flowParams = (flows.parameters ?? []).map((p) => p.name);
    for (const name of ['sandbox', 'outcome', 'action', 'phase', 'cursor', 'limit', 'follow', 'start_time']) expect(flowParams).toContain(name);
    expect(flows.responses['200']).toMatchObject({ content: { 'application/json': {}, 'application/x-ndjson': {} } });
    const connections = operation(doc, 'get', '/_emulator/proxy/connections');
    expect(connections.parameters?.find((p) => p.name === 'atyp')?.schema.enum).toEqual(['ipv4', 'domain', 'ipv6']);
    expect(connections.parameters?.map((p) => p.name)).toEqual(expect.arrayContaining(['user', 'host', 'replyCode', 'state', 'afterId', 'limit']));
  });

  it("describes the response shapes PRODUCT.md lists", () => {
    expect(props(schema(doc, 'PlatformDnsView')).records!.additionalProperties).toMatchObject({ type: 'array', items: { type: 'string' } });
    expect(props(schema(doc, 'CustomerDnsView')).records).toMatchObject({ type: 'object', additionalProperties: { type: 'string' } });

    const decision = variant(schema(doc, 'DryRunResult'), 'flowStarts', true);
    expect(props(decision).action!.enum).toEqual(['deny', 'pass-through', 'use-adapter']);
    expect(props(decision).route!.enum).toEqual(['direct', 'proxy']);
    expect(props(props(decision).proxyTarget!).atyp!.enum).toEqual(['domain', 'ipv4', 'ipv6']);
    expect(decision.required).toEqual(expect.arrayContaining(['action', 'reason']));
    expect(Object.keys(props(decision))).toEqual(expect.arrayContaining(['matchedRule', 'proxyTarget']));
    const noFlow = variant(schema(doc, 'DryRunResult'), 'flowStarts', false);
    expect(props(noFlow).action).toMatchObject({ const: 'deny' });
    expect(noFlow.required).toEqual(expect.arrayContaining(['action', 'reason']));

    const view = schema(doc, 'SandboxView');
    expect(props(view).interception!.enum).toEqual(['transparent', 'explicit']);
    expect(Object.keys(props(props(view).ingress!))).toEqual(['socks5', 'httpConnect']);
    expect(Object.keys(props(view))).toEqual(expect.arrayContaining(['namespace', 'address', 'hosts']));

    const probe = schema(doc, 'ProbeResult');
    expect(props(probe).outcome!.enum).toEqual(['completed', 'denied', 'rejected', 'error']);
    expect(props(probe).decision).toEqual({ $ref: '#/components/schemas/DryRunResult' });
    expect(Object.keys(props(props(probe).proxySaw!))).toEqual(expect.arrayContaining(['atyp', 'host', 'port', 'user']));
    expect(Object.keys(props(probe))).toContain('received');

    const entry = schema(doc, 'ConnectionLogEntry');
    for (const field of ['time', 'user', 'atyp', 'host', 'port', 'upstream', 'replyCode', 'bytesUp', 'bytesDown', 'durationMs', 'closeCause']) expect(props(entry)).toHaveProperty(field);

    const info = schema(doc, 'EmulatorInfo');
    for (const field of ['ports', 'token', 'interception', 'testProxy', 'fixtureCaPath', 'dataDir', 'version']) expect(props(info)).toHaveProperty(field);

    // Each route's success envelope points at its shape.
    const data = (method: string, path: string, status = '200') => {
      const response = operation(doc, method, path).responses[status] as { content: Record<string, { schema: JsonSchema }> };
      return props(response.content['application/json']!.schema).data;
    };
    expect(data('post', '/_emulator/sandboxes/{id}/evaluate')).toEqual({ $ref: '#/components/schemas/DryRunResult' });
    expect(data('post', '/_emulator/sandboxes/{id}/probe')).toEqual({ $ref: '#/components/schemas/ProbeResult' });
    expect(data('get', '/_emulator/sandboxes/{id}')).toEqual({ $ref: '#/components/schemas/SandboxView' });
    expect(data('get', '/_emulator/info')).toEqual({ $ref: '#/components/schemas/EmulatorInfo' });
    expect(data('get', '/_emulator/dns/platform')).toEqual({ $ref: '#/components/schemas/PlatformDnsView' });
    expect(data('post', '/_emulator/proxy/faults', '201')).toEqual({ $ref: '#/components/schemas/FaultDefinition' });
  });

  it("takes the evaluate and probe request schemas from the routes' decoders", () => {
    const evaluate = schema(doc, 'EvaluateRequest');
    const probe = schema(doc, 'ProbeRequest');
    for (const s of [evaluate, probe]) {
      expect(props(s).transport!.enum).toEqual(evaluateBody.shape.transport.unwrap().options);
      expect(props(s).appProtocol!.enum).toEqual(evaluateBody.shape.appProtocol.unwrap().options);
      expect(props(s).port).toMatchObject({ type: 'integer', minimum: 1, maximum: 65535 });
      expect(s.anyOf).toEqual([{ required: ['host'] }, { required: ['ip'] }]);
    }
    expect(evaluate.required).toEqual(['port']);
    expect(props(probe).send!.enum).toEqual(probeBody.shape.send.options);
    expect(props(probe).send!.enum).toEqual(['tls-client-hello', 'http-get', 'quic-initial', 'raw']);
    expect(new Set(probe.required as string[])).toEqual(new Set(['port', 'send']));
  });

  it('accepts and rejects the same evaluate, probe and fault bodies as the API', async () => {
    const raw = api(() => withProxy.current);
    const id = (await raw.post('/api/v1/sandboxes', { template: 'default' })).json.data.sandbox_id as string;
    const ajv = new Ajv2020({ strict: false });
    // A host no view resolves: the probe reports it without opening a connection.
    const nx = 'nx.corp.example.com';
    const never = { host: 'never.example.com' };
    const cases: [route: 'evaluate' | 'probe' | 'faults', body: Record<string, unknown>][] = [
      ['evaluate', { host: 'api.internal.example.com', port: 443 }],
      ['evaluate', { ip: '198.18.0.10', port: 53, transport: 'udp' }],
      ['evaluate', { host: nx, port: 80, appProtocol: 'http', unknownField: 1 }],
      ['evaluate', { port: 443 }],
      ['evaluate', { host: nx, port: 0 }],
      ['evaluate', { host: nx, port: 65536 }],
      ['evaluate', { host: nx, port: '443' }],
      ['evaluate', { host: nx, port: 443.5 }],
      ['evaluate', { host: '', port: 443 }],
      ['evaluate', { host: nx, port: 443, transport: 'sctp' }],
      ['evaluate', { host: nx, port: 443, appProtocol: 'ftp' }],
      ['evaluate', { ip: 'not an ip', port: 443 }],
      ...probeBody.shape.send.options.map((send): ['probe', Record<string, unknown>] => ['probe', { host: nx, port: 443, send }]),
      ['probe', { host: nx, port: 443, send: 'raw', data: 'aGVsbG8=', timeoutMs: 30_000 }],
      ['probe', { host: nx, port: 443 }],
      ['probe', { host: nx, port: 443, send: 'ping' }],
      ['probe', { port: 443, send: 'raw' }],
      ['probe', { host: nx, port: 443, send: 'raw', data: 'not base64!' }],
      ['probe', { host: nx, port: 443, send: 'raw', timeoutMs: 0 }],
      ['probe', { host: nx, port: 443, send: 'raw', timeoutMs: 30_001 }],
      ['faults', { type: 'reply_code', attributes: { code: 2 }, match: never }],
      ['faults', { name: 'slow.up', type: 'bandwidth', toxicity: 0.5, attributes: { rate: 10, direction: 'up' }, match: never }],
      ['faults', { type: 'no_such_fault', match: never }],
      ['faults', { type: 'reply_code', attributes: { code: 9 }, match: never }],
      ['faults', { type: 'reply_code', attributes: { code: 2, extra: 1 }, match: never }],
      ['faults', { type: 'reply_code', toxicity: 2, match: never }],
      ['faults', { type: 'reply_code', match: never, unknownField: 1 }],
      ['faults', { name: '-bad', type: 'reply_code', match: never }],
      ['faults', { type: 'bandwidth', attributes: { rate: 10, direction: 'sideways' }, match: never }],
      ['faults', { type: 'reply_code', match: { port: 70_000 } }],
    ];
    const validators = {
      evaluate: ajv.compile(schema(doc, 'EvaluateRequest')),
      probe: ajv.compile(schema(doc, 'ProbeRequest')),
      faults: ajv.compile(schema(doc, 'FaultDefinitionRequest')),
    };
    let accepted = 0;
    for (const [route, body] of cases) {
      const res = await raw.post(route === 'faults' ? '/_emulator/proxy/faults' : `/_emulator/sandboxes/${id}/${route}`, body);
      expect([200, 201, 400], JSON.stringify(res.json)).toContain(res.status);
      const ok = res.status < 300;
      expect(validators[route](body), `${route} ${JSON.stringify(body)}: API answered ${res.status} ${JSON.stringify(res.json)}`).toBe(ok);
      if (ok) accepted++;
      if (ok && route === 'faults') expect((await raw.delete(`/_emulator/proxy/faults/${res.json.data.name}`)).status).toBe(200);
    }
    // Both outcomes were exercised.
    expect(accepted).toBeGreaterThan(3);
    expect(accepted).toBeLessThan(cases.length - 3);
  });

  it('fits the responses the API sends', async () => {
    const emu = withProxy.current;
    const raw = api(() => emu);
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    ajv.addSchema({ ...doc, $id: 'https://emulator.invalid/openapi.json' });
    const pointer = (...segments: string[]) => segments.map((s) => encodeURIComponent(s.replaceAll('~', '~0').replaceAll('/', '~1'))).join('/');
    const check = async (method: 'get' | 'put' | 'post' | 'delete', path: string, concrete: string, body?: unknown) => {
      const res = await raw.call(method.toUpperCase(), concrete, body);
      const response = operation(doc, method, path).responses[String(res.status)];
      expect(response, `${method} ${concrete} answered ${res.status} ${res.text}`).toBeDefined();
      // A shared response (`#/components/responses/X`) or the operation's own.
      const at = '$ref' in response! ? ['components', 'responses', response.$ref.split('/').pop()!] : ['paths', path, method, 'responses', String(res.status)];
      const validate = ajv.compile({ $ref: `https://emulator.invalid/openapi.json#/${pointer(...at, 'content', 'application/json', 'schema')}` });
      expect(validate(res.json), `${method} ${concrete}: ${JSON.stringify(validate.errors)} in ${res.text}`).toBe(true);
    };
    // The docs' sandbox: its probe of api.internal.example.com goes through the test proxy, so the
    // connection log and the flows have entries.
    const id = await createDocsSandbox(raw);
    await check('get', '/_emulator/health', '/_emulator/health');
    await check('get', '/_emulator/info', '/_emulator/info');
    await check('get', '/_emulator/sandboxes/{id}', `/_emulator/sandboxes/${id}`);
    await check('get', '/_emulator/sandboxes/{id}', '/_emulator/sandboxes/sb-missing');
    await check('put', '/_emulator/sandboxes/{id}/hosts', `/_emulator/sandboxes/${id}/hosts`, { hosts: { 'db.corp.example.com': ['198.18.0.20'] } });
    await check('post', '/_emulator/sandboxes/{id}/evaluate', `/_emulator/sandboxes/${id}/evaluate`, { host: 'db.corp.example.com', port: 5432 });
    await check('post', '/_emulator/sandboxes/{id}/evaluate', `/_emulator/sandboxes/${id}/evaluate`, { host: 'nx.corp.example.com', port: 443 });
    await check('post', '/_emulator/sandboxes/{id}/evaluate', `/_emulator/sandboxes/${id}/evaluate`, { port: 443 });
    await check('post', '/_emulator/sandboxes/{id}/probe', `/_emulator/sandboxes/${id}/probe`, { host: 'nx.corp.example.com', port: 443, send: 'raw' });
    await check('post', '/_emulator/sandboxes/{id}/probe', `/_emulator/sandboxes/${id}/probe`, { host: 'api.internal.example.com', port: 443, send: 'tls-client-hello' });
    await waitForEvent(emu, (e) => e.sandbox_id === id && e.phase === 'result');
    await check('get', '/_emulator/dns/platform', '/_emulator/dns/platform');
    await check('get', '/_emulator/dns/customer', '/_emulator/dns/customer');
    await check('post', '/_emulator/proxy/faults', '/_emulator/proxy/faults', { type: 'reply_code', attributes: { code: 2 }, match: { host: 'never.example.com' } });
    await check('get', '/_emulator/proxy/faults', '/_emulator/proxy/faults');
    await check('delete', '/_emulator/proxy/faults/{name}', '/_emulator/proxy/faults/reply_code');
    await check('get', '/_emulator/proxy/connections', '/_emulator/proxy/connections');
    await check('get', '/_emulator/proxy/users', '/_emulator/proxy/users');
    await check('get', '/_emulator/flows', `/_emulator/flows?sandbox=${id}&limit=1`);
    expect((await raw.get(`/_emulator/flows?sandbox=${id}`)).json.data.events.length).toBeGreaterThan(1);
    expect((await raw.get('/_emulator/proxy/connections')).json.data.connections.length).toBeGreaterThan(0);
    await check('delete', '/_emulator/proxy/connections', '/_emulator/proxy/connections');
  });

  it('holds no secrets: neither the token nor a test proxy password', async () => {
    const text = JSON.stringify(doc);
    expect(text).not.toContain(withProxy.current.token);
    for (const { password } of [...withProxy.current.proxy!.users, ...defaultTestProxyUsers]) expect(text).not.toContain(password);
  });
});
