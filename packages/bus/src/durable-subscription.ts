import {
  type NormalizedFilter,
  type StandardEvent,
  isStage,
  subjectsForFilter,
} from "@market-scraper/events";
import type { JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { DeadLetterHub, DeadLetterSend } from "./dead-letters.js";
import { decodeMessage } from "./decode-message.js";
import { DurableConsumer } from "./durable-consumer.js";
import { errorMessage } from "./errors.js";
import type { BusMetrics, EventHandler } from "./event-bus.js";
import { STAGE_STREAMS, type StreamName } from "./jetstream-streams.js";
import type { BusLogger } from "./logger.js";
import type { RetryPolicy } from "./retry-policy.js";
import type { ActiveSubscription } from "./subscription-handle.js";

export interface DurableSubscriptionContext {
  nc: NatsConnection;
  logger: BusLogger;
  metrics: BusMetrics;
  policy: RetryPolicy;
  deadLetters: { hub: DeadLetterHub; send: DeadLetterSend };
  ackWaitMs?: number;
  maxAckPending?: number;
  pullBatch?: number;
  pullExpiresMs?: number;
  durableStart?: "all" | "new";
}

/**
 * `NatsEventBus.subscribe(filter, handler, { durable })`: one `DurableConsumer` per stream the filter
 * touches, and one loop that hands their messages to the handler one at a time: ack when it returns,
 * nak with the retry delay when it throws, dead-letter (then term) after `maxDeliver` deliveries.
 */
export async function subscribeDurable(
  ctx: DurableSubscriptionContext,
  filter: NormalizedFilter,
  handler: EventHandler,
  durable: string,
): Promise<ActiveSubscription> {
  const byStream = new Map<StreamName, string[]>();
  for (const subject of subjectsForFilter(filter)) {
    const stage = subject.slice(0, subject.indexOf("."));
    if (!isStage(stage)) continue;
    const stream = STAGE_STREAMS[stage];
    byStream.set(stream, [...(byStream.get(stream) ?? []), subject]);
  }
  const consumers: DurableConsumer[] = [];
  for (const [stream, subjects] of byStream) {
    const consumer = new DurableConsumer({
      nc: ctx.nc,
      stream,
      name: durable,
      subjects,
      ackWaitMs: ctx.ackWaitMs ?? 30_000,
      maxAckPending: ctx.maxAckPending ?? 1000,
      batch: ctx.pullBatch ?? 256,
      pullExpiresMs: ctx.pullExpiresMs ?? 1000,
      deliver: ctx.durableStart ?? "all",
      deadLetters: ctx.deadLetters,
      logger: ctx.logger,
    });
    try {
      await consumer.start();
    } catch (err) {
      await Promise.all(consumers.map((c) => c.close()));
      throw err;
    }
    consumers.push(consumer);
  }
  const state = { stopped: false };
  const loop = runLoop(ctx, consumers, state, filter, handler);
  return {
    stop: async () => {
      await Promise.all(consumers.map((c) => c.stopPulling()));
      state.stopped = true;
      for (const c of consumers) c.wake();
      await loop;
      // What arrived meanwhile goes back to the server for the next subscriber.
      await Promise.all(consumers.map((c) => c.close()));
    },
  };
}

async function runLoop(
  ctx: DurableSubscriptionContext,
  consumers: readonly DurableConsumer[],
  state: { stopped: boolean },
  filter: NormalizedFilter,
  handler: EventHandler,
): Promise<void> {
  const single = consumers.length === 1 ? consumers[0]! : null;
  while (!state.stopped) {
    if (single !== null) {
      const msg = single.shift();
      if (msg === undefined) {
        await single.waitForMessage();
        continue;
      }
      const pending = handle(ctx, single, msg, filter, handler);
      if (pending !== undefined) await pending;
      continue;
    }
    let handled = false;
    for (const consumer of consumers) {
      const msg = consumer.shift();
      if (msg === undefined) continue;
      handled = true;
      const pending = handle(ctx, consumer, msg, filter, handler);
      if (pending !== undefined) await pending;
    }
    if (!handled) await Promise.race(consumers.map((c) => c.waitForMessage()));
  }
}

/**
 * Handles one message; returns a promise only when something must be awaited (an async handler, a
 * failure, a dead letter), so the common case costs no extra promise per message.
 */
function handle(
  ctx: DurableSubscriptionContext,
  consumer: DurableConsumer,
  msg: JsMsg,
  filter: NormalizedFilter,
  handler: EventHandler,
): Promise<void> | undefined {
  const decoded = decodeMessage(msg.subject, msg.data, filter);
  if (decoded.kind === "filtered") {
    consumer.ack(msg);
    return undefined;
  }
  if (decoded.kind === "malformed") {
    ctx.metrics.malformed++;
    return consumer.deadLetter(msg, { reason: "MALFORMED", error: decoded.error }).then(() => undefined);
  }
  const { event } = decoded.delivery;
  let result: void | Promise<void>;
  try {
    result = handler(event);
  } catch (err) {
    return failed(ctx, consumer, msg, event, err);
  }
  if (result === undefined) {
    ctx.metrics.delivered++;
    consumer.ack(msg);
    return undefined;
  }
  return result.then(
    () => {
      ctx.metrics.delivered++;
      consumer.ack(msg);
    },
    (err: unknown) => failed(ctx, consumer, msg, event, err),
  );
}

/** A failed delivery: redelivered after the retry delay, or dead-lettered after `maxDeliver` tries. */
async function failed(
  ctx: DurableSubscriptionContext,
  consumer: DurableConsumer,
  msg: JsMsg,
  event: StandardEvent,
  err: unknown,
): Promise<void> {
  ctx.metrics.failed++;
  const attempts = msg.info.deliveryCount;
  if (attempts < ctx.policy.maxDeliver) {
    consumer.nak(msg, ctx.policy.delayMs(attempts));
    return;
  }
  await consumer.deadLetter(msg, {
    reason: "HANDLER_FAILED",
    error: errorMessage(err),
    event_id: event.event_id,
  });
}
