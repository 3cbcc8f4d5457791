// @ts-check
// Bundles our own CLI code (tsc's output in dist/) into dist/bin: one entry, one chunk per lazily
// loaded command, and the two files that run as processes or threads of their own (the WAL
// checkpoint worker, the gateway-namespace helper). Every package in `dependencies` stays an import:
// the package ships each of them once, in node_modules. Concatenating our ~200 modules keeps
// `start` close to the full bundle it replaces (BENCHMARKS.md, start → ready); no source maps, as
// in the rest of dist/: the output is readable JavaScript.
// Silent on success: `npm pack --json` runs this through prepack, and its stdout must stay JSON.
// `node scripts/build-bin.mjs [outDir]` (default dist/bin; tests build into a directory of their own).
import { chmodSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { build } from 'rolldown';

const outDir = process.argv[2] ?? 'dist/bin';
const pkg = /** @type {{ dependencies: Record<string, string> }} */ (JSON.parse(readFileSync('package.json', 'utf8')));
const dependencies = Object.keys(pkg.dependencies);

/** @param {string} id */
const isDependency = (id) => dependencies.some((d) => id === d || id.startsWith(`${d}/`));

/**
 * A chunk is named after the module it stands for, path included (`cli-commands-proxy`,
 * `test-proxy-proxy`), so that a stack trace says which part of dist/ it came from.
 * @param {{ name: string, facadeModuleId: string | null, moduleIds: string[] }} chunk
 */
function chunkName(chunk) {
  const id = chunk.facadeModuleId ?? chunk.moduleIds.at(-1);
  if (!id || !id.includes('/dist/')) return `${chunk.name}-[hash].js`;
  return `${relative('dist', id.slice(id.indexOf('/dist/') + 1)).replace(/\.js$/, '').replaceAll('/', '-')}-[hash].js`;
}

await build({
  // The workers keep their names: their callers find them next to themselves (`new URL('./x.js')`),
  // in dist/bin as in dist/.
  input: {
    main: 'dist/cli/main.js',
    'wal-checkpoint-worker': 'dist/store/wal-checkpoint-worker.js',
    'helper-process': 'dist/interception/transparent/helper-process.js',
  },
  platform: 'node',
  external: isDependency,
  logLevel: 'warn',
  output: { dir: outDir, format: 'esm', entryFileNames: '[name].js', chunkFileNames: chunkName },
});
// git keeps no mode for build output: without this, `npx sandbox-egress-emulator` from a clone that
// rebuilt is "Permission denied".
chmodSync(join(outDir, 'main.js'), 0o755);
