import { statSync } from "node:fs";
import { type StandardEvent, isMarketDataType } from "@market-scraper/events";
import { ConnectorError, type ConnectorErrorCode } from "./connector-error.js";
import { Connector, type ConnectorOptions } from "./connector.js";
import { type CapturePosition, readCapture } from "./raw-capture.js";
import type { TimerHandle } from "./scheduler.js";

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
  /** A progress line (frames, events, % of the file, rate) every this many ms; 0 = none. Default 5 s. */
  progressIntervalMs?: number;
}

/** What a replay has done so far, as its progress lines report it. */
export interface ReplayProgress {
  file: string;
  frames: number;
  events: number;
  bytes_read: number;
  file_bytes: number;
  /** Share of the file read, 0–100 (one decimal). */
  percent: number;
  /** Frames and events per second since the previous line (the whole run in the last line). */
  frames_per_s: number;
  events_per_s: number;
  elapsed_s: number;
}

/**
 * Plays a raw capture back as if live: every frame goes through the same protocol handler as the live
 * connector, with its original receive time, so the events are the ones the live connector produced, plus
 * `payload.replayed_at` (when this replay played the frame) on market data.
 */
export class ReplayConnector extends Connector {
  readonly #options: ReplayConnectorOptions;
  #run: Promise<void> | undefined;
  #abort = false;
  #wake: (() => void) | undefined;
  framesPlayed = 0;
  /** Market-data events the replayed frames made. */
  eventsPublished = 0;
  finished = false;
  readonly #position: CapturePosition = { bytes: 0 };
  #fileBytes = 0;
  #startedAt = 0;
  #progressTimer: TimerHandle | undefined;
  #lastProgress = { at: 0, frames: 0, events: 0 };

  constructor(options: ReplayConnectorOptions) {
    super(options);
    this.#options = options;
  }

  /** Resolves when the file has been played (or the connector stopped). */
  done(): Promise<void> {
    return this.#run ?? Promise.resolve();
  }

  /** Where the replay stands (what the progress lines log). */
  progress(): ReplayProgress {
    return this.#progressSince({ at: this.#startedAt, frames: 0, events: 0 });
  }

  #progressSince(since: { at: number; frames: number; events: number }): ReplayProgress {
    const now = this.scheduler.now();
    const seconds = Math.max(now - since.at, 1) / 1000;
    const fileBytes = this.#fileBytes;
    const bytes = Math.min(this.#position.bytes, fileBytes);
    return {
      file: this.#options.file,
      frames: this.framesPlayed,
      events: this.eventsPublished,
      bytes_read: bytes,
      file_bytes: fileBytes,
      percent: fileBytes > 0 ? Math.round((bytes / fileBytes) * 1000) / 10 : 100,
      frames_per_s: Math.round((this.framesPlayed - since.frames) / seconds),
      events_per_s: Math.round((this.eventsPublished - since.events) / seconds),
      elapsed_s: Math.round(now - this.#startedAt) / 1000,
    };
  }

  #scheduleProgress(): void {
    const every = this.#options.progressIntervalMs ?? 5_000;
    if (every <= 0) return;
    this.#progressTimer = this.scheduler.setTimeout(() => {
      const line = this.#progressSince(this.#lastProgress);
      this.#lastProgress = { at: this.scheduler.now(), frames: line.frames, events: line.events };
      this.logger.info(line, `replay ${line.percent}%: ${line.frames} frames, ${line.events} events`);
      this.#scheduleProgress();
    }, every);
  }

  #stopProgress(): void {
    this.scheduler.clearTimeout(this.#progressTimer);
    this.#progressTimer = undefined;
  }

  protected override async onStart(): Promise<void> {
    this.#abort = false;
    this.#position.bytes = 0;
    this.#startedAt = this.scheduler.now();
    this.#lastProgress = { at: this.#startedAt, frames: 0, events: 0 };
    try {
      this.#fileBytes = statSync(this.#options.file).size;
    } catch {
      this.#fileBytes = 0; // reading it fails below, and says why
    }
    this.logger.info({ file: this.#options.file, file_bytes: this.#fileBytes }, "replay started");
    this.#scheduleProgress();
    this.setState("connecting", { message: `replaying ${this.#options.file}` });
    this.#run = this.#play().catch((error: unknown) => {
      this.#stopProgress();
      this.emitError("PARSE_ERROR", `replay of ${this.#options.file} failed: ${String(error)}`, {
        file: this.#options.file,
      });
    });
  }

  protected override async onStop(): Promise<void> {
    this.#stopProgress();
    this.#abort = true;
    this.#wake?.();
    await this.#run;
  }

  async #play(): Promise<void> {
    const emit = (code: ConnectorErrorCode, message: string, details: Record<string, unknown>): void =>
      this.emitError(code, message, details);
    const io: ReplayIo = {
      publish: (event) => {
        this.eventsPublished += 1;
        // The event is the live run's (received_at = the capture's receive time); replayed_at says when it
        // entered the system now, so processing_time_ms measures this run, not the capture's age.
        this.publish(
          isMarketDataType(event.event_type)
            ? ({
                ...event,
                payload: { ...event.payload, replayed_at: new Date(this.scheduler.now()).toISOString() },
              } as StandardEvent)
            : event,
        );
      },
      error: emit,
    };
    let handler: FrameHandler | undefined;
    let firstMs: number | undefined;
    let startedAt = 0;
    let sinceYield = 0;
    const records = readCapture(
      this.#options.file,
      (line, reason) =>
        emit("PARSE_ERROR", `capture line ${line}: ${reason}`, { file: this.#options.file, line }),
      this.#position,
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
    this.#stopProgress();
    const summary = this.progress();
    this.logger.info(summary, `replay finished: ${summary.frames} frames, ${summary.events} events`);
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
