// Behaviour suites that run on both engines: sourdough (real host processes) and Cloudflare's workerd
// (through miniflare, inside a Worker). Needs test/oracle's dependencies: npm ci --prefix test/oracle.
// npm run test:engines
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: fileURLToPath(new URL("../..", import.meta.url)),
    include: ["test/engines/**/*.test.ts"],
    pool: "forks",
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 90_000,
  },
});
