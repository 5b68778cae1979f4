// Regenerates fixtures/sample-capture.jsonl, the capture `pnpm start` replays when asked to:
//   node --import tsx services/standalone/scripts/make-sample-capture.ts
import { fileURLToPath } from "node:url";
import { writeSampleCapture } from "../src/sample-capture.js";

const path = fileURLToPath(new URL("../fixtures/sample-capture.jsonl", import.meta.url));
const trades = writeSampleCapture(path);
console.log(`wrote ${trades} trades to ${path}`);
