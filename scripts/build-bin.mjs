// Bundles the CLI into dist/bin (one file per lazily loaded command) and makes the bin executable.
// Silent on success: `npm pack --json` runs this through prepack, and its stdout must stay JSON.
// `node scripts/build-bin.mjs [outDir]` (default dist/bin; tests build into a directory of their own).
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'rolldown';

const outDir = process.argv[2] ?? 'dist/bin';
await build({
  input: 'dist/cli/main.js',
  platform: 'node',
  external: ['better-sqlite3'],
  logLevel: 'warn',
  output: { dir: outDir, format: 'esm' },
});
// git keeps no mode for build output: without this, `npx sandbox-egress-emulator` from a clone that
// rebuilt is "Permission denied".
chmodSync(join(outDir, 'main.js'), 0o755);
