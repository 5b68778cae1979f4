import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./processes.js";

// The root README's shell examples, as the tests take them: a fenced block after `<!-- example:<name> -->`.
// Tests run them as written, so the README cannot drift from what works.

export const README = readFileSync(join(REPO_ROOT, "README.md"), "utf8");

/** The fenced block after `<!-- example:<name> -->`. */
export function example(name: string): string {
  const match = new RegExp(`<!-- example:${name} -->\\n\`\`\`\\w*\\n([\\s\\S]*?)\`\`\``).exec(README);
  if (match === null) throw new Error(`README.md has no \`<!-- example:${name} -->\` block`);
  return match[1]!;
}

/** A block's commands: one per line, without its `# comment`. */
export function commands(block: string): string[] {
  return block
    .split("\n")
    .map((line) => line.replace(/(?:^|\s)#\s.*$/, "").trim())
    .filter((line) => line !== "");
}

/** A line's `# comment`, e.g. an alternative form of the command. */
export function comment(block: string, line: number): string {
  return /(?:^|\s)#\s(.*)$/.exec(block.split("\n")[line]!)?.[1] ?? "";
}
