import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // One emulator for the whole run: in memory, on a free port, stopped at the end.
    globalSetup: ['sandbox-egress-emulator/vitest'],
    // Every test file starts from a clean emulator; files share it, so they run one at a time.
    setupFiles: ['./test/reset-emulator.ts'],
    fileParallelism: false,
  },
});
