import { z } from "zod";
import { EVENT_TYPES, type EventType } from "./event-type.js";
import { DERIVATIVE_TICKER_FIELDS, DerivativeTickerPayload } from "./payloads.js";
import { EventSchemas, StandardEventSchema } from "./standard-event.js";
import { STAGE_TYPES, STAGES } from "./subjects.js";

const SCHEMA_BASE = "https://market-scraper.dev/schemas/";

type JsonSchemaParams = NonNullable<Parameters<typeof z.toJSONSchema>[1]>;

/**
 * Refinements have no JSON Schema form, so the one rule of a payload that is a refinement is written out:
 * a `derivative_ticker` payload requires at least one of its values (`anyOf` of `required`).
 */
const override: NonNullable<JsonSchemaParams["override"]> = (ctx) => {
  if (ctx.zodSchema === DerivativeTickerPayload) {
    ctx.jsonSchema.anyOf = DERIVATIVE_TICKER_FIELDS.map((field) => ({ required: [field] }));
  }
};

const options: JsonSchemaParams = { io: "input", unrepresentable: "any", override };

/**
 * JSON Schema (draft 2020-12) documents generated from the zod schemas, keyed by file name. These are
 * committed under `schemas/` for consumers in other languages; a test fails when they are stale.
 */
export function generateJsonSchemas(): Record<string, unknown> {
  const files: Record<string, unknown> = {};
  for (const type of EVENT_TYPES) {
    files[`${type}.json`] = {
      $id: `${SCHEMA_BASE}${type}.json`,
      title: `StandardEvent<${type}>`,
      ...z.toJSONSchema(EventSchemas[type], options),
    };
  }
  files["standard-event.json"] = {
    $id: `${SCHEMA_BASE}standard-event.json`,
    title: "StandardEvent",
    ...z.toJSONSchema(StandardEventSchema, options),
  };
  files["asyncapi.json"] = asyncApiDocument();
  return files;
}

function channelFor(stage: string, type: EventType) {
  switch (stage) {
    case "market":
    case "processed":
      return {
        address: `${stage}.${type}.{source}.{symbol}`,
        parameters: { source: {}, symbol: {} },
      };
    case "system":
      return { address: `system.${type}.{source}`, parameters: { source: {} } };
    default:
      return { address: "custom.{source}.{name}", parameters: { source: {}, name: {} } };
  }
}

/** An AsyncAPI 3 description of the subjects and the message carried on each. */
function asyncApiDocument(): unknown {
  const channels: Record<string, unknown> = {};
  for (const stage of STAGES) {
    for (const type of STAGE_TYPES[stage]) {
      channels[`${stage}-${type}`] = {
        ...channelFor(stage, type),
        description:
          "Tokens are escaped reversibly: % . * > and whitespace become %25 %2E %2A %3E %20. " +
          "Header Nats-Msg-Id carries event_id.",
        messages: { [type]: { payload: { $ref: `${type}.json` } } },
      };
    }
  }
  channels["deadletter"] = {
    address: "deadletter.{original}",
    description:
      "Messages no handler could take, with their original bytes; an error event accompanies each.",
    parameters: { original: {} },
  };
  return {
    asyncapi: "3.0.0",
    info: { title: "market-scraper events", version: "1.0.0" },
    defaultContentType: "application/json",
    channels,
  };
}
