import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { STANDALONE_DEFAULTS, standaloneVariables } from "../src/index.js";

// The root README's configuration reference must list exactly the variables of the config schemas
// (standalone's and the four services'), and standalone's defaults as the code has them.

const README = fileURLToPath(new URL("../../../README.md", import.meta.url));

function referenceSection(): string {
  const text = readFileSync(README, "utf8");
  const start = text.indexOf("<!-- config-reference -->");
  const end = text.indexOf("<!-- /config-reference -->");
  expect(start, "the README has a config-reference section").toBeGreaterThan(-1);
  expect(end).toBeGreaterThan(start);
  return text.slice(start, end);
}

/** `| \`A\` + \`B\` | default | meaning |` → rows with the variables of the first cell. */
function rows(section: string): { variables: string[]; defaultCell: string; table: string }[] {
  const out: { variables: string[]; defaultCell: string; table: string }[] = [];
  let table = "";
  for (const line of section.split("\n")) {
    const heading = /^### (.+)$/.exec(line);
    if (heading) table = heading[1]!.trim();
    if (!line.startsWith("| `")) continue;
    const cells = line.split("|").map((c) => c.trim());
    const variables = [...cells[1]!.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1]!);
    out.push({ variables, defaultCell: cells[2] ?? "", table });
  }
  return out;
}

describe("README configuration reference", () => {
  it("lists every variable of every service schema, and nothing else", () => {
    const documented = new Set(rows(referenceSection()).flatMap((r) => r.variables));
    expect([...documented].sort()).toEqual([...new Set(standaloneVariables())].sort());
  });

  it("gives standalone's defaults as the code has them", () => {
    const standalone = rows(referenceSection()).filter((r) => r.table === "standalone");
    expect(standalone.map((r) => r.variables[0]).sort()).toEqual(Object.keys(STANDALONE_DEFAULTS).sort());
    for (const row of standalone) {
      expect(row.defaultCell, row.variables[0]).toContain(`\`${STANDALONE_DEFAULTS[row.variables[0]!]}\``);
    }
  });
});
