import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // One emulator for the whole run (or the one `sandbox-egress-emulator run --` started), and a
    // tenant of its own for every test file: files run in parallel, without a reset.
    globalSetup: ['sandbox-egress-emulator/vitest'],
  },
});
