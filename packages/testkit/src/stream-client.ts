import type { StandardEvent } from "@market-scraper/events";
import { waitFor } from "./wait-for.js";
import { WebSocket } from "ws";

export interface Frame {
  type: string;
  event?: StandardEvent;
  [key: string]: unknown;
}

/** A WebSocket client of the gateway's `/v1/stream` that records every frame. */
export class StreamClient {
  readonly frames: Frame[] = [];
  readonly #ws: WebSocket;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on("message", (data: Buffer) => this.frames.push(JSON.parse(data.toString("utf8")) as Frame));
  }

  static async open(url: string): Promise<StreamClient> {
    const ws = new WebSocket(url);
    const client = new StreamClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    return client;
  }

  /** Subscribes and waits for the `subscribed` answer. */
  async subscribe(filter: Record<string, unknown>): Promise<void> {
    const from = this.frames.length;
    this.#ws.send(JSON.stringify({ action: "subscribe", ...filter }));
    await waitFor(() => this.frames.slice(from).some((f) => f.type === "subscribed"), {
      message: "subscribed",
    });
  }

  events(): StandardEvent[] {
    return this.frames.flatMap((f) => (f.type === "event" && f.event !== undefined ? [f.event] : []));
  }

  close(): void {
    this.#ws.close();
  }
}
