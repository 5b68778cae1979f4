import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { EVENT_TYPES, generateJsonSchemas } from "./index.js";

const schemaDir = join(dirname(fileURLToPath(import.meta.url)), "..", "schemas");

describe("generated JSON Schema files", () => {
  it("are committed and up to date (run `pnpm --filter @market-scraper/events generate:schemas`)", () => {
    const generated = generateJsonSchemas();
    expect(readdirSync(schemaDir).sort()).toEqual(Object.keys(generated).sort());
    for (const [file, schema] of Object.entries(generated)) {
      expect(JSON.parse(readFileSync(join(schemaDir, file), "utf8")), file).toEqual(schema);
    }
  });

  it("cover every event type", () => {
    const generated = generateJsonSchemas();
    for (const type of EVENT_TYPES) expect(generated).toHaveProperty(`${type}.json`);
  });
});
