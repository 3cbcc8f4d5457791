import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Emulators started by tests (and the CLI processes they spawn) use explicit interception unless a
    // test asks for transparent mode: namespaces are only created by the tests that are about them.
    env: { SEE_INTERCEPTION: 'explicit' },
  },
});
