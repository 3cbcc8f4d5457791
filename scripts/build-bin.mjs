// @ts-check
// Bundles the CLI (tsc's output in dist/) into dist/bin: one entry, one chunk per lazily loaded
// command, and the two files that run as processes or threads of their own (the WAL checkpoint
// worker, the gateway-namespace helper). Dependencies are bundled too, except the native
// better-sqlite3: measured on a quiet 2-core machine (BENCHMARKS.md, "Bin bundle shape"), keeping
// them as imports made `start` → ready 452 ms instead of 313 ms (580 vs 320 ms CPU), because node
// then loads ~170 ES modules and ~45 CommonJS files (zod's locales, hono, pino) instead of ~35
// chunks. The price: the library entry (dist/index.js) imports the same packages from node_modules,
// so the tarball carries them twice (about 1 MB of dist/bin). No source maps, as in the rest of
// dist/: the output is readable JavaScript.
// Silent on success: `npm pack --json` runs this through prepack, and its stdout must stay JSON.
// `node scripts/build-bin.mjs [outDir]` (default dist/bin; tests build into a directory of their own).
import { chmodSync } from 'node:fs';
import { join, relative } from 'node:path';
import { build } from 'rolldown';

const outDir = process.argv[2] ?? 'dist/bin';
/** The one dependency that stays an import: a native addon cannot be bundled. @param {string} id */
const isNative = (id) => id === 'better-sqlite3' || id.startsWith('better-sqlite3/');

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
  external: isNative,
  logLevel: 'warn',
  output: { dir: outDir, format: 'esm', entryFileNames: '[name].js', chunkFileNames: chunkName },
});
// git keeps no mode for build output: without this, `npx sandbox-egress-emulator` from a clone that
// rebuilt is "Permission denied".
chmodSync(join(outDir, 'main.js'), 0o755);
