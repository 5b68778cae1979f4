import { createReadStream, createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { dirname } from "node:path";
import { createInterface } from "node:readline";

/**
 * Raw capture files: JSON lines, one record per line.
 * - `{"type":"markets","connector":"hyperliquid","markets":[…]}`: the markets the connector resolved
 *   (written at start; a replay needs them to name symbols without asking the exchange);
 * - `{"type":"frame","ms":1730160006192,"frame":"<the text frame exactly as received>"}`: `ms` is the
 *   receive time in Unix milliseconds.
 */
export type CaptureRecord =
  { type: "markets"; connector: string; markets: unknown[] } | { type: "frame"; ms: number; frame: string };

/** Appends every received frame, with its receive time, to a JSON-lines file. */
export class RawCaptureWriter {
  readonly path: string;
  readonly #stream: WriteStream;
  #failed: Error | undefined;
  frames = 0;

  constructor(path: string) {
    this.path = path;
    mkdirSync(dirname(path), { recursive: true });
    this.#stream = createWriteStream(path, { flags: "a" });
    this.#stream.on("error", (error) => {
      this.#failed = error;
    });
  }

  /** The write error that stopped the capture, if any (capture never stops the connector). */
  get error(): Error | undefined {
    return this.#failed;
  }

  writeMarkets(connector: string, markets: readonly unknown[]): void {
    this.#write({ type: "markets", connector, markets: [...markets] });
  }

  writeFrame(ms: number, frame: string): void {
    this.frames += 1;
    this.#write({ type: "frame", ms, frame });
  }

  #write(record: CaptureRecord): void {
    if (this.#failed !== undefined) return;
    this.#stream.write(`${JSON.stringify(record)}\n`);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#stream.end(() => resolve()));
  }
}

/** How far a `readCapture` has read: bytes of the lines handed out so far (for progress reports). */
export interface CapturePosition {
  bytes: number;
}

/**
 * Reads a capture file record by record; lines that are not records are reported through `onBadLine`.
 * `position.bytes`, when given, follows the bytes read (line endings counted as one byte).
 */
export async function* readCapture(
  path: string,
  onBadLine: (line: number, reason: string) => void = () => undefined,
  position?: CapturePosition,
): AsyncGenerator<CaptureRecord> {
  const lines = createInterface({ input: createReadStream(path, "utf8"), crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n += 1;
    if (position !== undefined) position.bytes += Buffer.byteLength(line) + 1;
    if (line.trim() === "") continue;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      onBadLine(n, "not JSON");
      continue;
    }
    const r = record as {
      type?: unknown;
      ms?: unknown;
      frame?: unknown;
      markets?: unknown;
      connector?: unknown;
    };
    if (r.type === "frame" && typeof r.ms === "number" && typeof r.frame === "string") {
      yield { type: "frame", ms: r.ms, frame: r.frame };
    } else if (r.type === "markets" && Array.isArray(r.markets)) {
      yield {
        type: "markets",
        connector: typeof r.connector === "string" ? r.connector : "",
        markets: r.markets,
      };
    } else {
      onBadLine(n, "not a capture record");
    }
  }
}
