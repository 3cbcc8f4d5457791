// Upstream-derived golden suite for PUT /api/v1/sandboxes/{id}/network: every case in
// fixtures/validation/*.json (each citing the upstream file and line it comes from) through the real API.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, useEmulator } from '../../helpers/emulator.js';

const fixtureDir = join(dirname(fileURLToPath(import.meta.url)), '../../../fixtures/validation');

interface ValidationCase {
  id: string;
  upstream: string;
  why: string;
  body?: unknown;
  raw?: string;
  sandbox?: 'missing';
  /** With the file's `wrap`: a 400 whose message is wrap + error. */
  error?: string;
  ok?: true;
  status?: number;
  message?: string;
  warning?: string;
}

interface ValidationFile {
  description: string;
  source: string;
  wrap?: string;
  /** Lines of the upstream file holding an fmt.Errorf; each must be cited by a case. */
  errorfLines?: number[];
  cases: ValidationCase[];
}

const files = readdirSync(fixtureDir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((name) => ({ name, data: JSON.parse(readFileSync(join(fixtureDir, name), 'utf8')) as ValidationFile }));

const errorCodes: Record<number, string> = { 400: 'bad_request', 404: 'not_found', 500: 'internal_error' };

const emu = useEmulator();
const client = api(() => emu.current);
let sandboxId = '';

beforeAll(async () => {
  const source = await client.post('/api/v1/credential-sources', {
    name: 'src',
    resolverKind: 'static_username_password',
    spec: { staticUsernamePassword: { username: 'u', password: 'p' } },
  });
  expect(source.status).toBe(201);
  const res = await client.post('/api/v1/sandboxes', { template: 'default' });
  sandboxId = res.json.data.sandbox_id;
});

describe('fixtures are well formed', () => {
  it.each(files)('$name: unique ids, an upstream citation and one expectation per case', ({ data }) => {
    expect(data.cases.length).toBeGreaterThan(0);
    expect(new Set(data.cases.map((c) => c.id)).size).toBe(data.cases.length);
    for (const c of data.cases) {
      expect(c.upstream).toMatch(/^(manager|pkg|ctld)\/[\w/.-]+\.go:\d+$/);
      expect((c.body === undefined) !== (c.raw === undefined)).toBe(true);
      expect([c.error !== undefined, c.ok === true, c.status !== undefined].filter(Boolean)).toHaveLength(1);
    }
  });

  it.each(files.filter((f) => f.data.errorfLines))('$name: every fmt.Errorf of the upstream file is cited by a case', ({ data }) => {
    const cited = new Set(data.cases.map((c) => Number(c.upstream.split(':').pop())));
    expect(data.errorfLines!.filter((line) => !cited.has(line))).toEqual([]);
  });
});

describe.each(files)('$name', ({ data }) => {
  it.each(data.cases)('$id $why ($upstream)', async (c) => {
    const id = c.sandbox === 'missing' ? 'sb-does-not-exist' : sandboxId;
    const res = await client.put(`/api/v1/sandboxes/${id}/network`, c.raw ?? c.body);
    const status = c.status ?? (c.ok ? 200 : 400);
    expect({ status: res.status, error: res.json?.error }).toEqual({
      status,
      error: status === 200 ? undefined : expect.objectContaining({ code: errorCodes[status] }),
    });
    const message = c.error !== undefined ? `${data.wrap ?? ''}${c.error}` : c.message;
    if (message !== undefined) expect(res.json.error.message).toBe(message);
    if (status === 200) expect(res.json.success).toBe(true);
    const warnings = (res.headers.get('warning') ?? '').split(/, (?=299 )/).filter(Boolean);
    const ignored = warnings.filter((w) => w.includes('ignored unknown'));
    if (c.warning !== undefined) expect(ignored).toEqual([c.warning]);
    else expect(ignored).toEqual([]);
  });
});
