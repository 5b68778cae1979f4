import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { K8S_DIR } from "./render.js";

const ROOT = join(K8S_DIR, "..", "..");
const SERVICES = readdirSync(join(ROOT, "services")).filter((d) =>
  existsSync(join(ROOT, "services", d, "package.json")),
);

/** Dockerfile instructions with continuation lines joined. */
function instructions(file: string): { op: string; args: string }[] {
  return readFileSync(file, "utf8")
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(" ") };
    });
}

describe.each(SERVICES)("services/%s/Dockerfile", (service) => {
  const file = join(ROOT, "services", service, "Dockerfile");

  it("exists, is multi-stage on a pinned Node LTS image, and runs as a non-root user", () => {
    expect(existsSync(file)).toBe(true);
    const steps = instructions(file);
    const froms = steps.filter((s) => s.op === "FROM").map((s) => s.args.split(/\s+/)[0]!);
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const image of froms) expect(image).toMatch(/^node:(22|24)[\w.-]*-slim$|^node:(22|24)\.\d+/);
    const finalStage = steps.slice(steps.map((s) => s.op).lastIndexOf("FROM"));
    const user = finalStage.filter((s) => s.op === "USER").pop();
    expect(user?.args).toBeDefined();
    expect(["root", "0"]).not.toContain(user!.args.split(":")[0]);
    expect(steps.some((s) => s.op === "RUN" && /pnpm .*deploy .*--prod/.test(s.args))).toBe(true);
  });

  it("copies paths that exist and starts the built entry in exec form", () => {
    const steps = instructions(file);
    for (const copy of steps.filter((s) => s.op === "COPY" && !s.args.includes("--from"))) {
      const parts = copy.args.split(/\s+/).filter((p) => !p.startsWith("--"));
      for (const source of parts.slice(0, -1)) expect(existsSync(join(ROOT, source)), source).toBe(true);
    }
    const cmd = steps.filter((s) => s.op === "CMD" || s.op === "ENTRYPOINT").pop();
    const argv = JSON.parse(cmd!.args) as string[];
    expect(argv[0]).toBe("node");
    expect(argv[1]).toBe("dist/main.js");
    // `pnpm test` builds before testing: the entry the image runs is what the build produces.
    expect(existsSync(join(ROOT, "services", service, "dist", "main.js"))).toBe(true);
  });
});

it("a .dockerignore keeps host installs and builds out of the build context", () => {
  const ignore = readFileSync(join(ROOT, ".dockerignore"), "utf8");
  for (const entry of ["**/node_modules", "**/dist", ".git"]) expect(ignore).toContain(entry);
});
