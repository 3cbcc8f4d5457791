import { defineConfig } from 'vitest/config';

/**
 * Tests that create network namespaces (transparent interception) assert that none of theirs are
 * left; several check the whole machine's `see-*` namespaces. They run in a group of their own, one
 * file at a time, after every other file has finished, so no other file's namespaces are there to
 * be seen (and the 2-core machine is not shared by two namespace topologies at once).
 */
const namespaceTests = ['test/integration/transparent/**/*.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Emulators started by tests (and the CLI processes they spawn) use explicit interception unless a
    // test asks for transparent mode: namespaces are only created by the tests that are about them.
    env: { SEE_INTERCEPTION: 'explicit' },
    projects: [
      { extends: true, test: { name: 'main', include: ['test/**/*.test.ts'], exclude: namespaceTests, sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'namespaces', include: namespaceTests, fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
});
