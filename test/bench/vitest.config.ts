// The bench smoke test runs on its own (it takes minutes and loads the machine): npm run test:bench.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: fileURLToPath(new URL(".", import.meta.url)),
    include: ["bench-smoke.test.ts"],
    pool: "forks",
    testTimeout: 15 * 60_000,
  },
});
