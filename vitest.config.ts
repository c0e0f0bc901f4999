import { defineConfig } from "vitest/config";

// Two projects: fast pure-logic tests run in parallel; integration tests spawn real host processes,
// so they run in forks, one file at a time, to keep a 2-core machine honest.
export default defineConfig({
  test: {
    // Without the capnp tool: one line saying how many tests were skipped and how to enable them.
    reporters: ["./test/support/capnp-notice.ts", "default"],
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts", "test/wire/**/*.test.ts", "test/support/**/*.test.ts", "test/codegen/**/*.test.ts"],
          pool: "threads",
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          pool: "forks",
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        // npm pack + installs with pnpm and npm into fresh projects (test/packaging/install.test.ts).
        test: {
          name: "packaging",
          include: ["test/packaging/**/*.test.ts"],
          pool: "forks",
          testTimeout: 120_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
