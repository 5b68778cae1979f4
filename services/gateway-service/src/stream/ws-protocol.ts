import { EVENT_TYPES, type EventType } from "@market-scraper/events";
import { z } from "zod";

/**
 * The WebSocket protocol of `/v1/stream` (ARCHITECTURE §6). Client → server:
 * `{"action":"subscribe","id"?,"event_types"?,"symbols"?,"sources"?}`, `{"action":"unsubscribe","id"?}`,
 * `{"action":"ping"}`. Server → client: `subscribed`, `event`, `pong`, `error` frames.
 */

export const ACTIONS = ["subscribe", "unsubscribe", "ping"] as const;

const requestId = z
  .string()
  .min(1, "must not be empty")
  .max(64, "must be at most 64 characters")
  .regex(/^[A-Za-z0-9._:-]+$/, "may only hold letters, digits and . _ : -");
const text = z.string().min(1, "must not be empty").max(128, "must be at most 128 characters");
const eventType = z.enum(EVENT_TYPES as [EventType, ...EventType[]], {
  error: `must be one of ${EVENT_TYPES.join(", ")}`,
});

export const SubscribeMessage = z.strictObject({
  action: z.literal("subscribe"),
  /** The subscription's id; the server assigns `s1`, `s2`… when absent. */
  id: requestId.optional(),
  event_types: z.array(eventType).min(1, "must list at least one type").max(16).optional(),
  symbols: z
    .array(text)
    .min(1, "must list at least one symbol")
    .max(256, "must list at most 256 symbols")
    .optional(),
  sources: z
    .array(text)
    .min(1, "must list at least one source")
    .max(64, "must list at most 64 sources")
    .optional(),
});
export type SubscribeMessage = z.infer<typeof SubscribeMessage>;

export const UnsubscribeMessage = z.strictObject({
  action: z.literal("unsubscribe"),
  /** The subscription to end; absent: all of them. */
  id: requestId.optional(),
});

export const PingMessage = z.strictObject({ action: z.literal("ping"), id: requestId.optional() });

export const ClientMessage = z.discriminatedUnion("action", [
  SubscribeMessage,
  UnsubscribeMessage,
  PingMessage,
]);
export type ClientMessage = z.infer<typeof ClientMessage>;

/** A subscription as the `subscribed` frame reports it (`null`: any). */
export interface SubscriptionView {
  id: string;
  event_types: EventType[] | null;
  symbols: string[] | null;
  sources: string[] | null;
}

export type ParsedMessage =
  { ok: true; message: ClientMessage } | { ok: false; message: string; id: string | undefined };

/** Parses one text frame; a failure names the bad field, as the `error` frame will. */
export function parseClientMessage(text: string): ParsedMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return { ok: false, message: `invalid JSON: ${detail}`, id: undefined };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, message: "a message must be a JSON object with an action", id: undefined };
  }
  const record = value as Record<string, unknown>;
  const id = typeof record.id === "string" ? record.id.slice(0, 64) : undefined;
  const action = record.action;
  if (typeof action !== "string" || !(ACTIONS as readonly string[]).includes(action)) {
    const got = typeof action === "string" ? `'${action.slice(0, 32)}'` : "missing";
    return { ok: false, message: `'action' is ${got}: expected ${ACTIONS.join(", ")}`, id };
  }
  const parsed = ClientMessage.safeParse(value);
  if (parsed.success) return { ok: true, message: parsed.data };
  const issue = parsed.error.issues[0];
  if (issue === undefined) return { ok: false, message: "invalid message", id };
  if (issue.code === "unrecognized_keys") {
    return { ok: false, message: `unknown field '${issue.keys[0] ?? "?"}' for action ${action}`, id };
  }
  const path = issue.path
    .map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`))
    .join("")
    .slice(1);
  return { ok: false, message: `'${path || "message"}' ${issue.message}`, id };
}
