/**
 * The driver shared by every case: a closed-loop throughput run (send as fast as the path takes, with
 * at most `maxOutstanding` events sent but not yet handled) and a paced run at a fixed rate for latency.
 * Publisher and subscriber live in this one process, so the send time of event `i` is kept in a ring
 * indexed by `i` and the receiving side computes publish→handler latency from it.
 */
import { type LatencySummary, summarize } from "./stats.js";

const RING = 1 << 22; // send times kept for the last 4M events (far more than can be outstanding)
const MASK = RING - 1;
const MAX_SAMPLES = 1 << 22;

export class Recorder {
  readonly #sendTimes = new Float64Array(RING);
  readonly #latencies = new Float64Array(MAX_SAMPLES);
  #samples = 0;
  /** Events sent so far (the next event's index). */
  sent = 0;
  /** Events handled so far. */
  received = 0;
  lastArrival = 0;
  #target = Number.POSITIVE_INFINITY;
  #wake: (() => void) | null = null;

  /** Takes the index of the next event to send. */
  next(): number {
    return this.sent++;
  }

  /** Stamps the send time of event `i`: call right before handing it to the bus or client. */
  mark(i: number): void {
    this.#sendTimes[i & MASK] = performance.now();
  }

  /** Event `i` reached its handler. */
  arrive(i: number): void {
    const now = performance.now();
    if (this.#samples < MAX_SAMPLES) this.#latencies[this.#samples++] = now - this.#sendTimes[i & MASK]!;
    this.lastArrival = now;
    if (++this.received >= this.#target) {
      const wake = this.#wake;
      this.#wake = null;
      this.#target = Number.POSITIVE_INFINITY;
      wake?.();
    }
  }

  /** Starts a new measurement: forgets the latency samples. */
  beginPhase(): void {
    this.#samples = 0;
  }

  latency(): LatencySummary {
    return summarize(this.#latencies, this.#samples);
  }

  /** Resolves once `received >= n`, or after `timeoutMs` (whichever first). */
  waitFor(n: number, timeoutMs: number): Promise<void> {
    if (this.received >= n) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = null;
        this.#target = Number.POSITIVE_INFINITY;
        resolve();
      }, timeoutMs);
      this.#target = n;
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** One side of a case, as the driver sees it. */
export interface Target {
  /** Sends event number `index` (and calls `rec.mark(index)` right before the hand-over). */
  send(index: number): void | Promise<void>;
  /** Called after every chunk of sends (and every paced tick): e.g. raw JetStream awaits its acks here. */
  endBatch?(): Promise<void>;
  /** Waits until everything sent has been handed to the transport. */
  flush?(): Promise<void>;
  /** Events given up without delivery (a bus's `dropped`), so the driver does not wait for them. */
  lost?(): number;
  /** Closes what `setup` opened. */
  teardown(): Promise<void>;
}

export interface ThroughputOptions {
  durationMs: number;
  /** Sends between yields to the event loop (and between `endBatch` calls). */
  chunk: number;
  /** Events sent but not handled before the sender waits. */
  maxOutstanding: number;
  stallTimeoutMs: number;
}

export interface PhaseResult {
  events: number;
  seconds: number;
  rate: number;
  /** CPU time (user + system, all threads) of this process per event: less sensitive to a busy machine. */
  cpuUsPerEvent: number;
  latency: LatencySummary;
  lost: number;
}

const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitReceived(target: Target, rec: Recorder, n: number, stallTimeoutMs: number): Promise<void> {
  let last = rec.received;
  let lastProgress = performance.now();
  for (;;) {
    const lost = target.lost?.() ?? 0;
    if (rec.received + lost >= n) return;
    await rec.waitFor(n - lost, 100);
    if (rec.received !== last) {
      last = rec.received;
      lastProgress = performance.now();
    } else if (performance.now() - lastProgress > stallTimeoutMs) {
      throw new Error(`stalled: ${rec.received} of ${n} events handled, ${lost} lost`);
    }
  }
}

/** Sends as fast as the path accepts for `durationMs`, then waits for every event to be handled. */
export async function runThroughput(
  target: Target,
  rec: Recorder,
  o: ThroughputOptions,
): Promise<PhaseResult> {
  rec.beginPhase();
  const first = rec.sent;
  const lostBefore = target.lost?.() ?? 0;
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const end = start + o.durationMs;
  while (performance.now() < end) {
    for (let k = 0; k < o.chunk; k++) {
      const pending = target.send(rec.next());
      if (pending !== undefined) await pending;
    }
    if (target.endBatch) await target.endBatch();
    await yieldToIo();
    if (rec.sent - rec.received > o.maxOutstanding) {
      await waitReceived(target, rec, rec.sent - o.maxOutstanding, o.stallTimeoutMs);
    }
  }
  if (target.endBatch) await target.endBatch();
  if (target.flush) await target.flush();
  await waitReceived(target, rec, rec.sent, o.stallTimeoutMs);
  const cpu = process.cpuUsage(cpuBefore);
  const events = rec.sent - first;
  const seconds = (rec.lastArrival - start) / 1000;
  return {
    events,
    seconds,
    rate: events / seconds,
    cpuUsPerEvent: (cpu.user + cpu.system) / events,
    latency: rec.latency(),
    lost: (target.lost?.() ?? 0) - lostBefore,
  };
}

export interface PacedOptions {
  /** Events per second. */
  rate: number;
  durationMs: number;
  stallTimeoutMs: number;
}

/** Sends `rate` events per second (in ~1 ms ticks) for `durationMs`; the latency of an unloaded path. */
export async function runPaced(target: Target, rec: Recorder, o: PacedOptions): Promise<PhaseResult> {
  rec.beginPhase();
  const total = Math.round((o.rate * o.durationMs) / 1000);
  const lostBefore = target.lost?.() ?? 0;
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  let n = 0;
  while (n < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) * o.rate) / 1000) + 1);
    while (n < due) {
      n++;
      const pending = target.send(rec.next());
      if (pending !== undefined) await pending;
    }
    if (target.endBatch) await target.endBatch();
    await sleep(1);
  }
  if (target.flush) await target.flush();
  await waitReceived(target, rec, rec.sent, o.stallTimeoutMs);
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    events: total,
    seconds,
    rate: total / seconds,
    cpuUsPerEvent: (cpu.user + cpu.system) / total,
    latency: rec.latency(),
    lost: (target.lost?.() ?? 0) - lostBefore,
  };
}
