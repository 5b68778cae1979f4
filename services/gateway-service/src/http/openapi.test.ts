import { describe, expect, it } from "vitest";
import { API_ROUTES } from "./api-routes.js";
import { buildOpenApiDocument } from "./openapi.js";

type Doc = {
  paths: Record<string, { get: { parameters?: { name: string; in: string }[]; security?: unknown } }>;
  components: { schemas: Record<string, unknown> };
};

describe("buildOpenApiDocument", () => {
  it("describes every route, its parameters, and resolves every reference", () => {
    const doc = buildOpenApiDocument({ version: "1.0.0", routes: API_ROUTES, secured: false }) as Doc;
    for (const route of API_ROUTES) expect(doc.paths).toHaveProperty([route.path]);
    const events = doc.paths["/v1/events"]!.get.parameters!.map((p) => `${p.in}:${p.name}`);
    expect(events).toEqual(
      expect.arrayContaining([
        "query:event_type",
        "query:source",
        "query:symbol",
        "query:start",
        "query:end",
        "query:limit",
        "query:cursor",
      ]),
    );
    expect(doc.paths["/v1/markets/{symbol}/trades"]!.get.parameters![0]).toMatchObject({
      name: "symbol",
      in: "path",
    });
    expect(doc.paths["/v1/events"]!.get.security).toBeUndefined();
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map(
      (m) => m[1]!,
    );
    for (const ref of refs) expect(doc.components.schemas).toHaveProperty([ref]);
    expect(doc.components.schemas).toHaveProperty(["TradeEvent"]);
  });

  it("documents liquidation and derivative_ticker: schemas, the event_type filter, the markets' kind", () => {
    const doc = buildOpenApiDocument({ version: "1.0.0", routes: API_ROUTES, secured: false }) as Doc;
    expect(doc.components.schemas).toHaveProperty(["LiquidationEvent"]);
    expect(doc.components.schemas).toHaveProperty(["DerivativeTickerEvent"]);
    const text = JSON.stringify(doc);
    expect(text).toContain('"liquidation","derivative_ticker"');
    const markets = JSON.stringify(doc.paths["/v1/markets"]);
    expect(`${markets}${JSON.stringify(doc.components.schemas)}`).toMatch(/"kind":\{[^}]*"spot","perpetual"/);
    const orderbook = JSON.stringify(doc.paths["/v1/markets/{symbol}/orderbook"]);
    expect(orderbook).toContain("payload.sequence");
  });

  it("adds the security requirement when keys are configured", () => {
    const doc = buildOpenApiDocument({ version: "1.0.0", routes: API_ROUTES, secured: true }) as Doc;
    expect(doc.paths["/v1/events"]!.get.security).toEqual([{ bearerAuth: [] }, { apiKeyHeader: [] }]);
    expect(doc.paths["/v1/stream"]!.get.security).toEqual([
      { bearerAuth: [] },
      { apiKeyHeader: [] },
      { apiKeyQuery: [] },
    ]);
  });
});
