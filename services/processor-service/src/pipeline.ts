import type { EventBus } from "@market-scraper/bus";
import type { EventType, StandardEvent } from "@market-scraper/events";
import { z } from "zod";
import { Processor, type ProcessResult, type ProcessorOptions } from "./processor.js";
import { ProcessorError } from "./processor-error.js";

/**
 * Processors chained in-process: each consumed event runs through every stage (each stage's outputs are
 * the next stage's inputs; events of types a stage does not take pass it unchanged), and only the final
 * outputs are published. So validate → dedup → ohlcv costs one bus round-trip per trade, not three.
 * A pipeline is itself a `Processor`: it takes the union of its stages' event types.
 */
export class Pipeline extends Processor {
  override readonly eventTypes: readonly EventType[];
  readonly stages: readonly Processor[];

  constructor(bus: EventBus | null, stages: readonly Processor[], options: ProcessorOptions = {}) {
    super(bus, { name: stages.map((s) => s.name).join("+") || "pipeline", ...options });
    if (stages.length === 0)
      throw new ProcessorError("INVALID_OPTION", "a pipeline needs at least one processor");
    this.stages = stages;
    this.eventTypes = [...new Set(stages.flatMap((s) => s.eventTypes))];
  }

  override get stateful(): boolean {
    return this.stages.some((s) => s.stateful);
  }

  override process(event: StandardEvent): Promise<ProcessResult> {
    return this.#run(event);
  }

  override async apply(event: StandardEvent): Promise<StandardEvent[]> {
    if (!this.accepts(event)) return [event];
    this.counters.received++;
    const outputs = await this.#run(event);
    if (outputs.length === 0) this.counters.dropped++;
    this.counters.emitted += outputs.length;
    return outputs;
  }

  async #run(event: StandardEvent): Promise<StandardEvent[]> {
    let current: StandardEvent[] = [event];
    for (const stage of this.stages) {
      if (current.length === 1) {
        current = await stage.apply(current[0]!);
      } else {
        const next: StandardEvent[] = [];
        for (const e of current) next.push(...(await stage.apply(e)));
        current = next;
      }
      if (current.length === 0) break;
    }
    return current;
  }

  /** Each stateful stage's state under its name (a stage may have none yet); other names are ignored. */
  override get stateSchema(): z.ZodType {
    const shape: Record<string, z.ZodType> = {};
    for (const stage of this.stages) if (stage.stateful) shape[stage.name] = stage.stateSchema.optional();
    return z.looseObject(shape);
  }

  override exportState(source: string, symbol: string): unknown {
    const state: Record<string, unknown> = {};
    let any = false;
    for (const stage of this.stages) {
      if (!stage.stateful) continue;
      const s = stage.exportState(source, symbol);
      if (s !== undefined) {
        state[stage.name] = s;
        any = true;
      }
    }
    return any ? state : undefined;
  }

  override importState(source: string, symbol: string, state: unknown): void {
    const byStage = typeof state === "object" && state !== null ? (state as Record<string, unknown>) : {};
    for (const stage of this.stages) {
      if (stage.stateful) stage.importState(source, symbol, byStage[stage.name] ?? null);
    }
  }
}
