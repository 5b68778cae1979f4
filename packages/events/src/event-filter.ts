import { EventValidationError } from "./errors.js";
import { type EventType, isEventType } from "./event-type.js";
import type { StandardEvent } from "./standard-event.js";
import { STAGES, STAGE_TYPES, type Stage, escapeToken, isStage, stageOf } from "./subjects.js";

/**
 * Which events a subscriber wants (ARCHITECTURE §5): an `EventType`, a list of them, `"*"` (everything),
 * or an object. Absent object fields mean "any". Events without a symbol (system, custom) never match
 * a `symbols` filter.
 */
export type EventFilter =
  | EventType
  | readonly EventType[]
  | "*"
  | {
      stage?: Stage | readonly Stage[];
      event_types?: readonly EventType[];
      sources?: readonly string[];
      symbols?: readonly string[];
    };

export interface NormalizedFilter {
  readonly stages: ReadonlySet<Stage> | null;
  readonly types: ReadonlySet<EventType> | null;
  readonly sources: ReadonlySet<string> | null;
  readonly symbols: ReadonlySet<string> | null;
}

function bad(message: string): EventValidationError {
  return new EventValidationError("INVALID_EVENT", [{ path: "filter", message }]);
}

function setOrNull<T>(
  values: readonly T[] | undefined,
  check: (v: T) => boolean,
  what: string,
): Set<T> | null {
  if (values === undefined) return null;
  if (!Array.isArray(values)) throw bad(`${what} must be a list`);
  const list: readonly T[] = values;
  for (const v of list) if (!check(v)) throw bad(`${String(v)} is not a valid ${what} entry`);
  return new Set(list);
}

/** Validates a filter and turns it into sets. Throws `EventValidationError` on an unknown type or stage. */
export function normalizeFilter(filter: EventFilter): NormalizedFilter {
  if (filter === "*") return { stages: null, types: null, sources: null, symbols: null };
  if (typeof filter === "string") {
    if (!isEventType(filter)) throw bad(`unknown event type '${String(filter)}'`);
    return { stages: null, types: new Set([filter]), sources: null, symbols: null };
  }
  if (Array.isArray(filter)) {
    return {
      stages: null,
      types: setOrNull<EventType>(filter as readonly EventType[], isEventType, "event type"),
      sources: null,
      symbols: null,
    };
  }
  const f = filter as Exclude<EventFilter, string | readonly EventType[]>;
  const stage = f.stage;
  const stages =
    stage === undefined ? null : setOrNull(typeof stage === "string" ? [stage] : stage, isStage, "stage");
  const nonEmpty = (v: string) => typeof v === "string" && v.length > 0;
  return {
    stages,
    types: setOrNull(f.event_types, isEventType, "event type"),
    sources: setOrNull(f.sources, nonEmpty, "source"),
    symbols: setOrNull(f.symbols, nonEmpty, "symbol"),
  };
}

/** Does `event` (published in `stage`, by default the event's own) pass the filter? */
export function matchesFilter(
  filter: NormalizedFilter,
  event: StandardEvent,
  stage: Stage = stageOf(event),
): boolean {
  if (filter.stages && !filter.stages.has(stage)) return false;
  if (filter.types && !filter.types.has(event.event_type)) return false;
  if (filter.sources && !filter.sources.has(event.source)) return false;
  if (filter.symbols) {
    const symbol = (event.payload as { symbol?: unknown }).symbol;
    if (typeof symbol !== "string" || !filter.symbols.has(symbol)) return false;
  }
  return true;
}

/** Past this many subjects per stage, positions widen to `*` and the local filter does the rest. */
const MAX_SUBJECTS_PER_STAGE = 32;

/**
 * The NATS subjects (with wildcards) that carry every event the filter can match. They may carry more
 * (a large filter is widened); receivers always apply `matchesFilter` as well.
 */
export function subjectsForFilter(filter: NormalizedFilter): string[] {
  const subjects: string[] = [];
  for (const stage of STAGES) {
    if (filter.stages && !filter.stages.has(stage)) continue;
    const stageTypes = STAGE_TYPES[stage];
    const types = filter.types ? stageTypes.filter((t) => filter.types!.has(t)) : stageTypes;
    if (types.length === 0) continue;
    if (filter.symbols && stage !== "market" && stage !== "processed") continue;

    let typeTokens: string[] = filter.types && types.length < stageTypes.length ? [...types] : ["*"];
    let sourceTokens = filter.sources ? [...filter.sources].map(escapeToken) : ["*"];
    if (stage === "custom") {
      // custom.<source>.<name>
      if (sourceTokens.length > MAX_SUBJECTS_PER_STAGE) sourceTokens = ["*"];
      for (const s of sourceTokens) subjects.push(s === "*" ? "custom.>" : `custom.${s}.*`);
      continue;
    }
    if (stage === "system") {
      if (typeTokens.length * sourceTokens.length > MAX_SUBJECTS_PER_STAGE) sourceTokens = ["*"];
      if (typeTokens[0] === "*" && sourceTokens[0] === "*") {
        subjects.push("system.>");
        continue;
      }
      for (const t of typeTokens) for (const s of sourceTokens) subjects.push(`system.${t}.${s}`);
      continue;
    }
    let symbolTokens = filter.symbols ? [...filter.symbols].map(escapeToken) : ["*"];
    const count = () => typeTokens.length * sourceTokens.length * symbolTokens.length;
    if (count() > MAX_SUBJECTS_PER_STAGE) symbolTokens = ["*"];
    if (count() > MAX_SUBJECTS_PER_STAGE) sourceTokens = ["*"];
    if (count() > MAX_SUBJECTS_PER_STAGE) typeTokens = ["*"];
    if (typeTokens[0] === "*" && sourceTokens[0] === "*" && symbolTokens[0] === "*") {
      subjects.push(`${stage}.>`);
      continue;
    }
    for (const t of typeTokens)
      for (const s of sourceTokens) for (const y of symbolTokens) subjects.push(`${stage}.${t}.${s}.${y}`);
  }
  return subjects;
}

/** Does a concrete subject match a NATS pattern with `*` and `>` wildcards? */
export function subjectMatchesPattern(subject: string, pattern: string): boolean {
  const s = subject.split(".");
  const p = pattern.split(".");
  for (let i = 0; i < p.length; i++) {
    const token = p[i]!;
    if (token === ">") return s.length > i;
    if (i >= s.length) return false;
    if (token !== "*" && token !== s[i]) return false;
  }
  return s.length === p.length;
}
