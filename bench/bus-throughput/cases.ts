/**
 * The benchmark cases. Bus cases create (`StandardEvent.create`) and publish a new event per send, as a
 * connector would, and their handlers only record the arrival. Raw cases send pre-serialized bytes of the
 * same events with the plain client and their handlers only count (order gives the index; one message
 * in 1024 is compared with what was sent, to prove the order assumption).
 */
import { type EventBus, MemoryEventBus, NatsEventBus, RedisEventBus } from "@market-scraper/bus";
import { type EventFilter, type StandardEvent, decodeEvent, encodeEvent } from "@market-scraper/events";
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamManager,
  type JsMsg,
  jetstream,
} from "@nats-io/jetstream";
import { type NatsConnection, connect, nanos } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import { type EventPool, SOURCE, SYMBOL, indexOf, makeTrade } from "./events.js";
import type { Recorder, Target } from "./harness.js";

export interface BenchContext {
  readonly natsUrl: string;
  readonly redisUrl: string;
  /** Admin JetStream manager on the bench's own server (purges, consumer clean-up). */
  readonly jsm: JetStreamManager;
  /** Admin Redis connection (key clean-up). */
  readonly redis: Redis;
  /** 1024 pre-created trades and their bytes. */
  readonly pool: EventPool;
}

export type Goal = { readonly minRate: number } | { readonly minRatio: number };

export type Group = "memory" | "nats-core" | "nats-jetstream" | "redis";

export interface CaseSpec {
  readonly id: string;
  readonly group: Group;
  readonly kind: "bus" | "raw" | "reference";
  readonly label: string;
  /** What happens per event, for the table. */
  readonly work: string;
  /** The case the ratio column divides by. */
  readonly baseline?: string;
  readonly goal?: Goal;
  readonly chunk: number;
  readonly maxOutstanding: number;
  /** Only run with BENCH_DIAG=1 (or when named in BENCH_ONLY): explains a gap, not a headline figure. */
  readonly diagnostic?: boolean;
  /** Run before every repetition (purge streams, delete keys). */
  readonly prepare?: (ctx: BenchContext) => Promise<void>;
  setup(ctx: BenchContext, rec: Recorder, rep: number): Promise<Target & { mismatches?(): number }>;
}

const POOL_MASK = 1023; // the pool has 1024 events
const CHECK_MASK = 1023; // raw receivers compare one message in 1024 with what was sent

/** Subscription filter of the bus cases: the bench's trades, one subject pattern. */
const FILTER: EventFilter = { stage: "market", event_types: ["trade"], sources: [SOURCE] };
const RAW_NATS_SUBJECT = `market.trade.raw.${SYMBOL}`; // in the MARKET stream, like the bus's subjects
const JS_STREAM = "MARKET";
const REDIS_BUS_CHANNEL = "bench";
const REDIS_RAW_PREFIX = "rawbench";
const REDIS_STREAM_MAXLEN = 1_000_000; // as RedisEventBus's default streamMaxLen

/**
 * How a bus case hands events over: `each` awaits every `publish` (what a producer does), `chunk` collects
 * the promises and awaits them once per chunk, like the raw baselines (diagnostic: shows what coalescing
 * the writes of consecutive publishes would give).
 */
type AwaitMode = "each" | "chunk";

interface PublishSide {
  readonly send: (publish: () => Promise<void>) => void | Promise<void>;
  readonly endBatch?: () => Promise<void>;
}

function publishSide(mode: AwaitMode): PublishSide {
  if (mode === "each") return { send: (publish) => publish() };
  let pending: Promise<void>[] = [];
  return {
    send: (publish) => {
      pending.push(publish());
    },
    endBatch: async () => {
      const batch = pending;
      pending = [];
      await Promise.all(batch);
    },
  };
}

/**
 * What every bus case does once its buses are up: `sub` is subscribed; each send creates a trade and
 * publishes it on `pub` (awaited as `mode` says); lost = dropped or malformed on either side.
 */
function busTarget(
  pub: EventBus,
  sub: EventBus,
  rec: Recorder,
  mode: AwaitMode,
  cleanup?: () => Promise<void>,
): Target {
  const side = publishSide(mode);
  return {
    send(i) {
      const event = makeTrade(i);
      rec.mark(i);
      return side.send(() => pub.publish(event));
    },
    ...(side.endBatch ? { endBatch: side.endBatch } : {}),
    flush: () => pub.flush(),
    lost: () => pub.metrics().dropped + sub.metrics().dropped + sub.metrics().malformed,
    teardown: async () => {
      await pub.close();
      await sub.close();
      await cleanup?.();
    },
  };
}

function natsConnect(url: string): Promise<NatsConnection> {
  return connect({ servers: url, noAsyncTraces: true });
}

async function purgeMarket(ctx: BenchContext): Promise<void> {
  await ctx.jsm.streams.purge(JS_STREAM);
}

async function deleteRedisKeys(ctx: BenchContext): Promise<void> {
  await ctx.redis.del(`${REDIS_BUS_CHANNEL}:events`, `${REDIS_RAW_PREFIX}:events`);
}

// ---------------------------------------------------------------------------------------------- memory

const referenceCallback: CaseSpec = {
  id: "memory-reference",
  group: "memory",
  kind: "reference",
  label: "reference: plain callback dispatch",
  work: "pre-created event → handlers array, synchronous",
  chunk: 1024,
  maxOutstanding: 8192,
  async setup(ctx, rec) {
    let received = 0;
    let mismatched = 0;
    const handlers: ((e: StandardEvent) => void)[] = [
      (e) => {
        const i = received++;
        if ((i & CHECK_MASK) === 0 && e !== ctx.pool.events[i & POOL_MASK]) mismatched++;
        rec.arrive(i);
      },
    ];
    return {
      send(i) {
        const event = ctx.pool.events[i & POOL_MASK]!;
        rec.mark(i);
        for (const h of handlers) h(event);
      },
      mismatches: () => mismatched,
      teardown: async () => undefined,
    };
  },
};

function memoryBusCase(create: boolean): CaseSpec {
  return {
    id: create ? "memory-bus-create" : "memory-bus",
    group: "memory",
    kind: "bus",
    label: create ? "MemoryEventBus, create per event" : "MemoryEventBus",
    work: create
      ? "StandardEvent.create + await publish → 1 subscriber"
      : "await publish(pre-created event) → 1 subscriber",
    baseline: "memory-reference",
    ...(create ? {} : { goal: { minRate: 1_000_000 } }),
    chunk: 1024,
    maxOutstanding: 8192,
    async setup(ctx, rec) {
      const bus = new MemoryEventBus();
      let received = 0;
      let mismatched = 0;
      await bus.subscribe(
        FILTER,
        create
          ? (e) => rec.arrive(indexOf(e))
          : (e) => {
              const i = received++;
              if ((i & CHECK_MASK) === 0 && e !== ctx.pool.events[i & POOL_MASK]) mismatched++;
              rec.arrive(i);
            },
      );
      return {
        send: create
          ? (i) => {
              const event = makeTrade(i);
              rec.mark(i);
              return bus.publish(event);
            }
          : (i) => {
              rec.mark(i);
              return bus.publish(ctx.pool.events[i & POOL_MASK]!);
            },
        lost: () => bus.metrics().dropped,
        mismatches: () => mismatched,
        teardown: () => bus.close(),
      };
    },
  };
}

const codecCeiling: CaseSpec = {
  id: "codec-reference",
  group: "memory",
  kind: "reference",
  label: "reference: create + encode + decode, no transport",
  work: "StandardEvent.create + encodeEvent + decodeEvent (zod)",
  chunk: 1024,
  maxOutstanding: 8192,
  async setup(_ctx, rec) {
    return {
      send(i) {
        const event = makeTrade(i);
        rec.mark(i);
        rec.arrive(indexOf(decodeEvent(encodeEvent(event))));
      },
      teardown: async () => undefined,
    };
  },
};

// ------------------------------------------------------------------------------------------- NATS core

const rawNatsCore: CaseSpec = {
  id: "nats-core-raw",
  group: "nats-core",
  kind: "raw",
  label: "raw nats.js core",
  work: "nc.publish(subject, bytes) → nc.subscribe callback (counts)",
  chunk: 256,
  maxOutstanding: 8192,
  prepare: purgeMarket,
  async setup(ctx, rec) {
    const [pub, sub] = await Promise.all([natsConnect(ctx.natsUrl), natsConnect(ctx.natsUrl)]);
    let received = 0;
    let mismatched = 0;
    const { bytes } = ctx.pool;
    sub.subscribe(RAW_NATS_SUBJECT, {
      callback: (err, msg) => {
        if (err) return;
        const i = received++;
        if ((i & CHECK_MASK) === 0 && !bytes[i & POOL_MASK]!.equals(msg.data)) mismatched++;
        rec.arrive(i);
      },
    });
    await sub.flush();
    return {
      send(i) {
        rec.mark(i);
        pub.publish(RAW_NATS_SUBJECT, bytes[i & POOL_MASK]);
      },
      flush: () => pub.flush(),
      mismatches: () => mismatched,
      teardown: async () => {
        await Promise.all([pub.drain(), sub.drain()]);
      },
    };
  },
};

function busNatsCore(mode: AwaitMode): CaseSpec {
  return {
    id: mode === "each" ? "nats-core-bus" : "nats-core-bus-chunked",
    group: "nats-core",
    kind: "bus",
    label: mode === "each" ? "NatsEventBus core" : "diag: NatsEventBus core, publishes awaited per 256",
    work:
      mode === "each"
        ? 'create + await publish (publishMode "core") → plain subscription (decode+validate)'
        : "as above, but the 256 publish promises of a chunk are awaited together",
    baseline: "nats-core-raw",
    ...(mode === "each" ? { goal: { minRatio: 0.5 } } : { diagnostic: true }),
    chunk: 256,
    maxOutstanding: 8192,
    prepare: purgeMarket,
    async setup(ctx, rec) {
      const [pub, sub] = await Promise.all([
        NatsEventBus.connect({ servers: ctx.natsUrl, publishMode: "core" }),
        NatsEventBus.connect({ servers: ctx.natsUrl }),
      ]);
      await sub.subscribe(FILTER, (e) => rec.arrive(indexOf(e)));
      return busTarget(pub, sub, rec, mode);
    },
  };
}

/** Raw core publish followed by an `await` per message, as a producer awaiting each publish does. */
const rawNatsCoreAwait: CaseSpec = {
  id: "nats-core-raw-await",
  group: "nats-core",
  kind: "reference",
  label: "diag: raw nats.js core, await after each publish",
  work: "nc.publish(bytes); await (a resolved promise) → nc.subscribe callback",
  baseline: "nats-core-raw",
  diagnostic: true,
  chunk: 256,
  maxOutstanding: 8192,
  prepare: purgeMarket,
  async setup(ctx, rec) {
    const [pub, sub] = await Promise.all([natsConnect(ctx.natsUrl), natsConnect(ctx.natsUrl)]);
    let received = 0;
    sub.subscribe(RAW_NATS_SUBJECT, { callback: () => rec.arrive(received++) });
    await sub.flush();
    const { bytes } = ctx.pool;
    const resolved = Promise.resolve();
    return {
      send(i) {
        rec.mark(i);
        pub.publish(RAW_NATS_SUBJECT, bytes[i & POOL_MASK]);
        return resolved;
      },
      flush: () => pub.flush(),
      teardown: async () => {
        await Promise.all([pub.drain(), sub.drain()]);
      },
    };
  },
};

// -------------------------------------------------------------------------------------- NATS JetStream

/**
 * `max_messages` of the raw `consume()` (max_ack_pending 1000, as the bus). Draining a pre-filled stream
 * with 100, 256, 500 and 1000 gave 60–130k msgs/s each on this 2-core machine, none consistently ahead.
 */
const RAW_JS_CONSUME_BATCH = 500;

/**
 * Raw JetStream. The publisher sends a chunk of 256 `js.publish` (with msgID) and awaits their acks
 * together. The consumer is a durable pull consumer with explicit acks, read with `consume()` and a
 * callback (`consumer: "consume"`), or (diagnostic) the way NatsEventBus reads: `consumers.get` + `fetch`
 * of 256 per round, iterated with `for await` (`consumer: "fetch"`).
 */
function rawJetStream(consumerMode: "consume" | "fetch"): CaseSpec {
  const viaFetch = consumerMode === "fetch";
  return {
    id: viaFetch ? "nats-js-raw-fetch" : "nats-js-raw",
    group: "nats-jetstream",
    kind: viaFetch ? "reference" : "raw",
    label: viaFetch ? "diag: raw JetStream, consumer read like the bus" : "raw JetStream",
    work: viaFetch
      ? "as raw JetStream, but consumers.get + fetch(256) + for await per round, ack each"
      : "js.publish(bytes, msgID) ×256 then await acks → durable pull consume() callback, ack each",
    ...(viaFetch ? { baseline: "nats-js-raw", diagnostic: true } : {}),
    chunk: 256,
    maxOutstanding: 8192,
    prepare: purgeMarket,
    async setup(ctx, rec, rep) {
      const [pub, sub] = await Promise.all([natsConnect(ctx.natsUrl), natsConnect(ctx.natsUrl)]);
      const js = jetstream(pub);
      const jsSub = jetstream(sub);
      const durable = `bench_${consumerMode}_${rep}`;
      await ctx.jsm.consumers.add(JS_STREAM, {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(30_000),
        max_ack_pending: 1000, // as NatsEventBus's default maxAckPending
        filter_subject: RAW_NATS_SUBJECT,
      });
      let received = 0;
      let mismatched = 0;
      let failed = 0;
      const { bytes } = ctx.pool;
      const onMessage = (m: JsMsg) => {
        m.ack();
        const i = received++;
        if ((i & CHECK_MASK) === 0 && !bytes[i & POOL_MASK]!.equals(m.data)) mismatched++;
        rec.arrive(i);
      };
      let stopConsumer: () => Promise<void>;
      if (viaFetch) {
        const state = { stopped: false };
        const loop = (async () => {
          while (!state.stopped) {
            try {
              const consumer = await jsSub.consumers.get(JS_STREAM, durable);
              const messages = await consumer.fetch({ max_messages: 256, expires: 1000 });
              for await (const m of messages) onMessage(m);
            } catch (err) {
              if (!state.stopped) console.error("fetch failed", err);
            }
          }
        })();
        stopConsumer = async () => {
          state.stopped = true;
          await loop;
        };
      } else {
        const consumer = await jsSub.consumers.get(JS_STREAM, durable);
        const messages: ConsumerMessages = await consumer.consume({
          max_messages: RAW_JS_CONSUME_BATCH,
          callback: onMessage,
        });
        stopConsumer = () => messages.close().then(() => undefined);
      }
      let pending: Promise<unknown>[] = [];
      const tag = `raw-${rep}-${Date.now().toString(36)}`;
      return {
        send(i) {
          rec.mark(i);
          pending.push(js.publish(RAW_NATS_SUBJECT, bytes[i & POOL_MASK], { msgID: `${tag}-${i}` }));
        },
        async endBatch() {
          if (pending.length === 0) return;
          const batch = pending;
          pending = [];
          for (const r of await Promise.allSettled(batch)) if (r.status === "rejected") failed++;
        },
        lost: () => failed,
        mismatches: () => mismatched,
        teardown: async () => {
          await stopConsumer();
          await ctx.jsm.consumers.delete(JS_STREAM, durable).catch(() => undefined);
          await Promise.all([pub.drain(), sub.drain()]);
        },
      };
    },
  };
}

const busJetStream: CaseSpec = {
  id: "nats-js-bus",
  group: "nats-jetstream",
  kind: "bus",
  label: "NatsEventBus durable",
  work: 'create + await publish (publishMode "jetstream") → durable subscription',
  baseline: "nats-js-raw",
  goal: { minRatio: 0.8 },
  chunk: 256,
  maxOutstanding: 8192,
  prepare: purgeMarket,
  async setup(ctx, rec, rep) {
    const [pub, sub] = await Promise.all([
      NatsEventBus.connect({ servers: ctx.natsUrl }),
      NatsEventBus.connect({ servers: ctx.natsUrl }),
    ]);
    const durable = `bench_bus_${rep}`;
    await sub.subscribe(FILTER, (e) => rec.arrive(indexOf(e)), { durable });
    return busTarget(pub, sub, rec, "each", async () => {
      await ctx.jsm.consumers.delete(JS_STREAM, durable).catch(() => undefined);
    });
  },
};

// ----------------------------------------------------------------------------------------------- Redis

function rawRedisCase(withXadd: boolean): CaseSpec {
  return {
    id: withXadd ? "redis-raw" : "redis-raw-publish",
    group: "redis",
    kind: withXadd ? "raw" : "reference",
    label: withXadd ? "raw ioredis XADD + PUBLISH" : "raw ioredis PUBLISH only",
    work: withXadd
      ? "XADD MAXLEN ~1e6 + PUBLISH (auto-pipelined, acks awaited per 256) → PSUBSCRIBE (counts)"
      : "PUBLISH (auto-pipelined, acks awaited per 256) → PSUBSCRIBE (counts); not the bus's work",
    chunk: 256,
    maxOutstanding: 8192,
    prepare: deleteRedisKeys,
    async setup(ctx, rec) {
      const pub = new Redis(ctx.redisUrl, { enableAutoPipelining: true, maxRetriesPerRequest: null });
      const sub = new Redis(ctx.redisUrl);
      const key = `${REDIS_RAW_PREFIX}:events`;
      const subject = RAW_NATS_SUBJECT;
      const channel = `${REDIS_RAW_PREFIX}:${subject}`;
      let received = 0;
      let mismatched = 0;
      let failed = 0;
      const { bytes } = ctx.pool;
      sub.on("pmessageBuffer", (_pattern: Buffer, _channel: Buffer, message: Buffer) => {
        const i = received++;
        if ((i & CHECK_MASK) === 0 && !bytes[i & POOL_MASK]!.equals(message)) mismatched++;
        rec.arrive(i);
      });
      await sub.psubscribe(`${REDIS_RAW_PREFIX}:market.trade.raw.*`);
      await pub.ping();
      let pending: Promise<unknown>[] = [];
      return {
        send(i) {
          const data = bytes[i & POOL_MASK]!;
          rec.mark(i);
          if (withXadd) {
            pending.push(pub.xadd(key, "MAXLEN", "~", REDIS_STREAM_MAXLEN, "*", "s", subject, "d", data));
          }
          pending.push(pub.publish(channel, data));
        },
        async endBatch() {
          if (pending.length === 0) return;
          const batch = pending;
          pending = [];
          for (const r of await Promise.allSettled(batch)) if (r.status === "rejected") failed++;
        },
        lost: () => failed,
        mismatches: () => mismatched,
        teardown: async () => {
          await Promise.all([pub.quit(), sub.quit()]);
        },
      };
    },
  };
}

function busRedis(mode: AwaitMode): CaseSpec {
  return {
    id: mode === "each" ? "redis-bus" : "redis-bus-chunked",
    group: "redis",
    kind: "bus",
    label: mode === "each" ? "RedisEventBus" : "diag: RedisEventBus, publishes awaited per 256",
    work:
      mode === "each"
        ? "create + await publish (XADD + PUBLISH) → plain subscription (PSUBSCRIBE, decode+validate)"
        : "as above, but the 256 publish promises of a chunk are awaited together",
    baseline: "redis-raw",
    ...(mode === "each" ? {} : { diagnostic: true }),
    chunk: 256,
    maxOutstanding: 8192,
    prepare: deleteRedisKeys,
    async setup(ctx, rec) {
      const pub = new RedisEventBus({ url: ctx.redisUrl, channel: REDIS_BUS_CHANNEL });
      const sub = new RedisEventBus({ url: ctx.redisUrl, channel: REDIS_BUS_CHANNEL });
      await sub.subscribe(FILTER, (e) => rec.arrive(indexOf(e)));
      return busTarget(pub, sub, rec, mode);
    },
  };
}

/** Every case, in run order; within a group, cases alternate repetition by repetition. */
export const CASES: readonly CaseSpec[] = [
  referenceCallback,
  memoryBusCase(false),
  memoryBusCase(true),
  codecCeiling,
  rawNatsCore,
  busNatsCore("each"),
  busNatsCore("chunk"),
  rawNatsCoreAwait,
  rawJetStream("consume"),
  busJetStream,
  rawJetStream("fetch"),
  rawRedisCase(true),
  rawRedisCase(false),
  busRedis("each"),
  busRedis("chunk"),
];
