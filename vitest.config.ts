import { defaultServerConditions } from "vite";
import { defineConfig } from "vitest/config";

// Workspace packages resolve to their TypeScript sources in tests (the "@market-scraper/source" export
// condition), so tests never run against a stale dist/.
const conditions = ["@market-scraper/source", ...defaultServerConditions];

const shared = {
  resolve: { conditions },
  ssr: { resolve: { conditions } },
};

export default defineConfig({
  test: {
    projects: [
      {
        ...shared,
        test: {
          name: "unit",
          sequence: { groupOrder: 0 },
          include: [
            "packages/*/{src,test}/**/*.test.ts",
            "services/*/{src,test}/**/*.test.ts",
            "bench/**/*.test.ts",
            "deploy/test/**/*.test.ts",
          ],
          exclude: ["**/*.int.test.ts", "**/node_modules/**"],
        },
      },
      {
        ...shared,
        test: {
          name: "integration",
          // Unit tests first, then integration files (which start servers), with fewer workers.
          sequence: { groupOrder: 1 },
          include: [
            "packages/*/src/**/*.int.test.ts",
            "packages/*/test/**/*.int.test.ts",
            "services/*/src/**/*.int.test.ts",
            "services/*/test/**/*.int.test.ts",
            "e2e/**/*.int.test.ts",
            "deploy/test/**/*.int.test.ts",
          ],
          // Prints which NATS server version each file ran against (MARKET_SCRAPER_NATS picks it).
          setupFiles: ["packages/testkit/vitest/nats-version.setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // Integration files start their own servers; two cores do not take much parallelism.
          maxWorkers: 2,
        },
      },
    ],
  },
});
