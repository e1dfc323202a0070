import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Native addons must run in child processes, not worker threads.
    pool: "forks",
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
