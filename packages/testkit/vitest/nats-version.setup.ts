import { relative } from "node:path";
import { afterAll, expect } from "vitest";
import { natsServersSummary } from "../src/nats-server.js";

// A setup file of the integration project (vitest.config.ts): after each test file, one line naming the
// NATS server version(s) it ran against, e.g. `nats-server 2.15.3 for e2e/pipeline.int.test.ts`. Files that
// start no NATS server print nothing.
afterAll(() => {
  const summary = natsServersSummary();
  if (summary === undefined) return;
  const file = expect.getState().testPath;
  console.log(`${summary} for ${file === undefined ? "?" : relative(process.cwd(), file)}`);
});
