import { isStage, type Stage } from "@market-scraper/events";
import { StoreError } from "./store-error.js";

/** Position after the last row of a page: the sort key (ts, event_id, stage) of that row. */
export interface CursorPosition {
  readonly ts_us: number;
  readonly event_id: string;
  readonly stage: Stage;
}

/** An opaque cursor: base64url of `[ts_us, event_id, stage]`. */
export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(JSON.stringify([position.ts_us, position.event_id, position.stage]), "utf8").toString(
    "base64url",
  );
}

/** Throws `StoreError` (`BAD_CURSOR`) for anything `encodeCursor` did not produce. */
export function decodeCursor(cursor: string): CursorPosition {
  let value: unknown;
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new Error("not base64url");
    value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch (cause) {
    throw new StoreError("BAD_CURSOR", "invalid cursor", { cause });
  }
  if (
    !Array.isArray(value) ||
    value.length !== 3 ||
    typeof value[0] !== "number" ||
    !Number.isSafeInteger(value[0]) ||
    typeof value[1] !== "string" ||
    !/^[0-9a-f-]{36}$/.test(value[1]) ||
    !isStage(value[2])
  ) {
    throw new StoreError("BAD_CURSOR", "invalid cursor");
  }
  return { ts_us: value[0], event_id: value[1], stage: value[2] };
}
