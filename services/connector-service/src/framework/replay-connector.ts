import type { StandardEvent } from "@market-scraper/events";
import { ConnectorError, type ConnectorErrorCode } from "./connector-error.js";
import { Connector, type ConnectorOptions } from "./connector.js";
import { readCapture } from "./raw-capture.js";

/** Protocol handling of one exchange, fed with the frames of a capture. */
export interface FrameHandler {
  handleFrame(text: string, receivedAt: number): void;
}

/** What a replayed frame handler may do: publish events, report errors (both counted as the live ones). */
export interface ReplayIo {
  publish(event: StandardEvent): void;
  error(code: ConnectorErrorCode, message: string, details: Record<string, unknown>): void;
}

/** `realtime`: the original gaps between frames (divided by `speed`); `max`: as fast as possible. */
export type ReplayPace = { mode: "realtime"; speed: number } | { mode: "max" };

export interface ReplayConnectorOptions extends Omit<ConnectorOptions, "name"> {
  /** Source of the events (the captured exchange's name, so replayed events look live). */
  name: string;
  file: string;
  pace: ReplayPace;
  /** Builds the exchange's frame handler from the capture's `markets` record. */
  createHandler: (markets: unknown[], io: ReplayIo) => FrameHandler;
  /** Called once the whole file has been played. */
  onFinished?: () => void;
}

/**
 * Plays a raw capture back as if live: every frame goes through the same protocol handler as the live
 * connector, with its original receive time, so the events are the ones the live connector produced.
 */
export class ReplayConnector extends Connector {
  readonly #options: ReplayConnectorOptions;
  #run: Promise<void> | undefined;
  #abort = false;
  #wake: (() => void) | undefined;
  framesPlayed = 0;
  finished = false;

  constructor(options: ReplayConnectorOptions) {
    super(options);
    this.#options = options;
  }

  /** Resolves when the file has been played (or the connector stopped). */
  done(): Promise<void> {
    return this.#run ?? Promise.resolve();
  }

  protected override async onStart(): Promise<void> {
    this.#abort = false;
    this.setState("connecting", { message: `replaying ${this.#options.file}` });
    this.#run = this.#play().catch((error: unknown) => {
      this.emitError("PARSE_ERROR", `replay of ${this.#options.file} failed: ${String(error)}`, {
        file: this.#options.file,
      });
    });
  }

  protected override async onStop(): Promise<void> {
    this.#abort = true;
    this.#wake?.();
    await this.#run;
  }

  async #play(): Promise<void> {
    const emit = (code: ConnectorErrorCode, message: string, details: Record<string, unknown>): void =>
      this.emitError(code, message, details);
    const io: ReplayIo = { publish: (event) => this.publish(event), error: emit };
    let handler: FrameHandler | undefined;
    let firstMs: number | undefined;
    let startedAt = 0;
    let sinceYield = 0;
    const records = readCapture(this.#options.file, (line, reason) =>
      emit("PARSE_ERROR", `capture line ${line}: ${reason}`, { file: this.#options.file, line }),
    );
    for await (const record of records) {
      if (this.#abort) return;
      if (record.type === "markets") {
        handler = this.#options.createHandler(record.markets, io);
        this.setState("connected");
        this.setState("subscribed", { message: "replaying" });
        continue;
      }
      if (handler === undefined) {
        throw new ConnectorError("PARSE_ERROR", "capture has no markets record before its first frame");
      }
      const pace = this.#options.pace;
      if (pace.mode === "realtime") {
        if (firstMs === undefined) {
          firstMs = record.ms;
          startedAt = this.scheduler.now();
        }
        const due = startedAt + (record.ms - firstMs) / pace.speed;
        const wait = due - this.scheduler.now();
        if (wait > 0) await this.#sleep(wait);
        if (this.#abort) return;
      } else if (++sinceYield >= 1000) {
        sinceYield = 0;
        await new Promise((resolve) => setImmediate(resolve));
      }
      this.lastMessageAt = this.scheduler.now();
      this.framesPlayed += 1;
      handler.handleFrame(record.frame, record.ms);
    }
    this.finished = true;
    this.setState("disconnected", { message: `replay of ${this.#options.file} finished` });
    this.#options.onFinished?.();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.scheduler.setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        this.scheduler.clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
    });
  }
}
