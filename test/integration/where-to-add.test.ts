import { createHash } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { greetingBytes, rawConnect } from '../helpers/socks-raw.js';

/**
 * The README's "Where to add" recipes, carried out: for each kind the test adds one in a copy of the
 * project exactly as the README says, checks that the addition touched the files the README names and
 * no others, type-checks the copy, and shows the new piece working through the copy's own code.
 */

const repo = path.resolve(import.meta.dirname, '../..');

interface Recipe {
  /** The README bullet's bold label under "Where to add". */
  label: string;
  apply(copy: Copy): Promise<void>;
  prove(copy: Copy): Promise<void>;
}

class Copy {
  constructor(readonly root: string) {}
  file(rel: string): string {
    return path.join(this.root, rel);
  }
  async write(rel: string, text: string): Promise<void> {
    await writeFile(this.file(rel), text);
  }
  /** Inserts `text` after the first line containing `anchor`; fails when the anchor is gone. */
  async insertAfter(rel: string, anchor: string, text: string): Promise<void> {
    const source = await readFile(this.file(rel), 'utf8');
    const at = source.indexOf(anchor);
    if (at < 0) throw new Error(`${rel}: anchor ${JSON.stringify(anchor)} not found`);
    const lineEnd = source.indexOf('\n', at) + 1;
    await writeFile(this.file(rel), source.slice(0, lineEnd) + text + source.slice(lineEnd));
  }
  async replace(rel: string, from: string, to: string): Promise<void> {
    const source = await readFile(this.file(rel), 'utf8');
    if (!source.includes(from)) throw new Error(`${rel}: ${JSON.stringify(from)} not found`);
    await writeFile(this.file(rel), source.replace(from, to));
  }
  import<T>(rel: string): Promise<T> {
    return import(pathToFileURL(this.file(rel)).href) as Promise<T>;
  }
}

/** Every file under the copy (except node_modules) → hash of its content. */
async function snapshot(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      if (e.name === 'node_modules') continue;
      const full = path.join(dir, e.name);
      if (e.isDirectory()) await walk(full);
      else out.set(path.relative(root, full), createHash('sha256').update(await readFile(full)).digest('hex'));
    }
  };
  await walk(root);
  return out;
}

function changedFiles(before: Map<string, string>, after: Map<string, string>): string[] {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys].filter((k) => before.get(k) !== after.get(k)).sort();
}

/** The files a README "Where to add" bullet names: its backticked paths, `<name>` filled in. */
function readmeFiles(readme: string, label: string, name: string): string[] {
  const section = readme.slice(readme.indexOf('### Where to add'));
  const start = section.indexOf(`- **${label}**`);
  if (start < 0) throw new Error(`README has no "Where to add" bullet **${label}**`);
  const end = section.indexOf('\n- **', start + 1);
  const bullet = section.slice(start, end < 0 ? undefined : end).split('\n\n')[0]!;
  const paths = [...bullet.matchAll(/`([^`\s]+\.(?:ts|md|js|json))`/g)].map((m) => m[1]!.replaceAll('<name>', name));
  return [...new Set(paths)].sort();
}

const fault: Recipe = {
  label: 'A test-proxy fault',
  async apply(copy) {
    await copy.write(
      'src/test-proxy/faults/example-reset.ts',
      `import { z } from 'zod';
import { defineFault } from './fault.js';

/** Resets the connection as soon as the greeting arrives. */
export const exampleReset = defineFault({
  type: 'example_reset',
  summary: 'reset the connection at the greeting',
  attributes: z.object({}).strict(),
  effect: (_attributes, { phase }) => (phase === 'greeting' ? { kind: 'close', how: 'reset' } : undefined),
});
`,
    );
    await copy.insertAfter('src/test-proxy/faults/registry.ts', "from './silent-close.js';", "import { exampleReset } from './example-reset.js';\n");
    await copy.insertAfter('src/test-proxy/faults/registry.ts', '      silentClose,', '      exampleReset,\n');
    await copy.replace('README.md', '`fragmented_replies`\n(`gapMs` [2]).', '`fragmented_replies`\n(`gapMs` [2]); `example_reset` (none).');
  },
  async prove(copy) {
    const { createTestProxy } = await copy.import<typeof import('../../src/test-proxy/proxy.js')>('src/test-proxy/proxy.ts');
    const proxy = await createTestProxy({ users: [{ username: 'u', password: 'p' }], faults: [{ type: 'example_reset' }] });
    try {
      const client = await rawConnect(proxy.port);
      client.send(greetingBytes([0x02]));
      expect(await client.ended(5000)).toBe('reset');
      expect(proxy.faults.list().map((f) => f.type)).toEqual(['example_reset']);
    } finally {
      await proxy.stop();
    }
  },
};

const command: Recipe = {
  label: 'A CLI command',
  async apply(copy) {
    await copy.write(
      'src/cli/commands/hello.ts',
      `import { parseCommandArgs } from '../args.js';
import type { CliCommand } from '../io.js';

const help = \`Usage: sandbox-egress-emulator hello [--name N]

Greets.

Options:
  --name N            who to greet
  -h, --help          print this help
\`;

export const run: CliCommand = async (args, io) => {
  const parsed = parseCommandArgs(io, help, { args, options: { name: { type: 'string' } } });
  if (typeof parsed === 'number') return parsed;
  io.stdout.write(\`hello \${parsed.values.name ?? 'world'}\\n\`);
  return 0;
};
`,
    );
    await copy.insertAfter('src/cli/program.ts', '  detect  ', '  hello                 greet (an example command)\n');
    await copy.insertAfter('src/cli/program.ts', "  detect: async () =>", "  hello: async () => (await import('./commands/hello.js')).run,\n");
    await copy.insertAfter('README.md', '| `detect [--json]` |', '| `hello [--name N]` | greets |\n');
  },
  async prove(copy) {
    const { main } = await copy.import<typeof import('../../src/cli/program.js')>('src/cli/program.ts');
    const out: string[] = [];
    const sink = { write: (s: string) => out.push(s) };
    const io = { stdout: sink, stderr: sink, env: {}, cwd: repo } as unknown as Parameters<typeof main>[1];
    expect(await main(['hello', '--name', 'contributor'], io)).toBe(0);
    expect(out.join('')).toBe('hello contributor\n');
    out.length = 0;
    expect(await main(['--help'], io)).toBe(0);
    expect(out.join('')).toMatch(/hello {17}greet/);
  },
};

const classifier: Recipe = {
  label: 'A TCP classifier',
  async apply(copy) {
    await copy.write(
      'src/classify/example.ts',
      `import { needMore, noMatch, startsWithPrefixOf, type ProtocolMatch } from './protocol-match.js';

const magic = Buffer.from('EXAMPLE/1 ');

/** A made-up protocol whose first bytes are \`EXAMPLE/1 \`. */
export function matchExample(buf: Buffer): ProtocolMatch {
  if (!startsWithPrefixOf(buf, magic)) return noMatch;
  return buf.length < magic.length ? needMore : { kind: 'matched', appProtocol: 'example' };
}
`,
    );
    await copy.insertAfter('src/classify/classify-tcp.ts', "from './tls.js';", "import { matchExample } from './example.js';\n");
    await copy.insertAfter('src/classify/classify-tcp.ts', "{ name: 'ssh', match: matchSsh },", "  { name: 'example', match: matchExample },\n");
    await copy.replace('src/policy/types.ts', "'mongodb', 'udp'] as const", "'mongodb', 'udp', 'example'] as const");
  },
  async prove(copy) {
    const { classifyTcp } = await copy.import<typeof import('../../src/classify/index.js')>('src/classify/index.ts');
    expect(classifyTcp(Buffer.from('EXAMPLE/1 hello'))).toEqual({ kind: 'known', appProtocol: 'example' });
    expect(classifyTcp(Buffer.from('EXAM'))).toEqual({ kind: 'need-more' });
    const { validateNetworkPolicy } = await copy.import<typeof import('../../src/policy/validate.js')>('src/policy/validate.ts');
    const policy = { mode: 'block-all', egress: { trafficRules: [{ action: 'allow', appProtocols: ['example'], ports: [{ port: 7000 }] }] } };
    expect(validateNetworkPolicy(policy as never)).toBeUndefined();
  },
};

const adminRoute: Recipe = {
  label: 'An admin API route',
  async apply(copy) {
    await copy.write(
      'src/api/admin/example-routes.ts',
      `import { Hono } from 'hono';
import { okJson } from '../envelope.js';
import { describeRoute, ok, pathParam, responses, tag } from './openapi-operation.js';
import { componentSchema, objectWith, str } from './openapi-schema.js';

const echoSchema = componentSchema('ExampleEcho', () => objectWith('echo', str('the word sent')));

/** \`GET /_emulator/example/{word}\`: an example route. */
export function exampleRoutes() {
  return new Hono().get(
    '/example/:word',
    describeRoute({
      operationId: 'example',
      tags: [tag.emulator],
      summary: 'Echoes a word',
      parameters: [pathParam('word', 'any word')],
      responses: responses({ '200': ok('the word', echoSchema) }, 'NotFound'),
    }),
    (c) => okJson(c, { echo: c.req.param('word') }),
  );
}
`,
    );
    await copy.insertAfter('src/api/admin/admin-app.ts', "from './story-routes.js';", "import { exampleRoutes } from './example-routes.js';\n");
    await copy.insertAfter('src/api/admin/admin-app.ts', "    .route('/', proxyRoutes)", "    .route('/', exampleRoutes())\n");
  },
  async prove(copy) {
    const { startEmulator } = await copy.import<typeof import('../../src/emulator.js')>('src/emulator.ts');
    const { adminData } = await copy.import<typeof import('../../src/api/admin/client.js')>('src/api/admin/client.ts');
    const emu = await startEmulator({ testProxy: false });
    try {
      // The typed client knows the new route (the copy's types; this file compiles against the original).
      const admin = emu.admin as unknown as { example: { ':word': { $get(a: { param: { word: string } }): Promise<Response> } } };
      expect(await adminData(admin.example[':word'].$get({ param: { word: 'hi' } }) as never)).toEqual({ echo: 'hi' });
      const res = await fetch(`${emu.apiUrl}/_emulator/openapi.json`, { headers: { authorization: `Bearer ${emu.token}` } });
      const doc = (await res.json()) as { paths: Record<string, Record<string, { operationId: string }>>; components: { schemas: Record<string, unknown> } };
      expect(doc.paths['/_emulator/example/{word}']?.get?.operationId).toBe('example');
      expect(doc.components.schemas.ExampleEcho).toBeDefined();
    } finally {
      await emu.stop();
    }
  },
};

const recipes: Recipe[] = [fault, command, classifier, adminRoute];

describe('README "Where to add" recipes', () => {
  let copy: Copy;
  let readme: string;
  const touched = new Map<string, string[]>();

  beforeAll(async () => {
    copy = new Copy(await mkdtemp(path.join(tmpdir(), 'see-where-to-add-')));
    for (const entry of ['src', 'fixtures', 'web', 'README.md', 'package.json', 'tsconfig.json']) await cp(path.join(repo, entry), copy.file(entry), { recursive: true });
    await symlink(path.join(repo, 'node_modules'), copy.file('node_modules'), 'dir');
    await writeFile(copy.file('tsconfig.json'), JSON.stringify({ extends: './tsconfig.base.json', include: ['src'] }));
    await cp(path.join(repo, 'tsconfig.json'), copy.file('tsconfig.base.json'));
    readme = await readFile(path.join(repo, 'README.md'), 'utf8');
    for (const recipe of recipes) {
      const before = await snapshot(copy.root);
      await recipe.apply(copy);
      touched.set(recipe.label, changedFiles(before, await snapshot(copy.root)));
    }
  }, 60_000);
  afterAll(async () => {
    if (copy) await rm(copy.root, { recursive: true, force: true });
  });

  it.each(recipes.map((r) => [r.label, r] as const))('%s touches exactly the files the README names', (label) => {
    const name = { 'A test-proxy fault': 'example-reset', 'A CLI command': 'hello', 'A TCP classifier': 'example', 'An admin API route': 'example' }[label] ?? '';
    expect(touched.get(label)).toEqual(readmeFiles(readme, label, name));
  });

  it('the copy with every addition type-checks', async () => {
    const tsc = path.join(repo, 'node_modules/typescript/bin/tsc');
    const r = await execa(process.execPath, [tsc, '-p', copy.file('tsconfig.json'), '--noEmit'], { reject: false, cwd: copy.root });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
  }, 120_000);

  it.each(recipes.map((r) => [r.label, r] as const))('%s works', async (_label, recipe) => {
    await recipe.prove(copy);
  });
});
