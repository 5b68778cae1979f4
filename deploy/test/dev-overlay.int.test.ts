import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  FakeHyperliquidServer,
  type PostgresServerHandle,
  currentNatsServer,
  findBinary,
  freePort,
  startPostgres,
  waitFor,
} from "@market-scraper/testkit";
import {
  type NatsConnection,
  PermissionViolationError,
  type Subscription,
  connect,
} from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { K8S_DIR, type K8sObject, render } from "./render.js";

/**
 * The rendered dev overlay with NATS auth, run on this machine: NATS (the current server, as in the
 * manifests; `NATS_AUTH_TEST_SERVER=system` runs the oldest supported one from PATH instead) started with
 * the manifest's own configuration (auth and permissions included), each service started with its
 * Deployment's command and environment (cluster hosts mapped to 127.0.0.1), the fake exchange in place of
 * Hyperliquid. Storage and the processor start before the owners of the streams they read (the connector
 * owns MARKET and SYSTEM, the processor PROCESSED) and wait for them.
 */
const ROOT = join(K8S_DIR, "..", "..");
const SERVICES = ["storage-service", "processor-service", "connector-service", "gateway-service"] as const;
const USERS = ["connector", "processor", "storage", "gateway", "operator"] as const;
type User = (typeof USERS)[number];
const PASSWORDS = Object.fromEntries(USERS.map((u) => [u, `p${randomBytes(12).toString("hex")}`])) as Record<
  User,
  string
>;
const NATS_SERVER =
  process.env["NATS_AUTH_TEST_SERVER"] === "system" ? findBinary("nats-server")! : currentNatsServer();

interface Container {
  env?: {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: unknown };
  }[];
  envFrom?: { configMapRef?: { name: string } }[];
  ports?: { containerPort: number }[];
}
type Workload = K8sObject & { spec: { template: { spec: { containers: Container[] } } } };

const objects = render({ name: "dev + nats-auth", overlay: "dev", components: ["nats-auth"] });
const byKind = (kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name.startsWith(name));

const children: ChildProcess[] = [];
let workdir: string;
let natsUrl: string;
let postgres: PostgresServerHandle;
let exchange: FakeHyperliquidServer;
const httpPorts: Record<string, number> = {};

/** A Secret's value; undefined for an optional Secret the overlay does not create (gateway-api-keys). */
function secretValue(ref: { name: string; key: string }): string | undefined {
  if (ref.name === "nats-credentials") return PASSWORDS[ref.key as User];
  if (ref.name === "storage-database" && ref.key === "url") return postgres.url;
  const secret = byKind("Secret", ref.name) as (K8sObject & { data: Record<string, string> }) | undefined;
  const value = secret?.data[ref.key];
  return value === undefined ? undefined : Buffer.from(value, "base64").toString("utf8");
}

/** The container's environment as Kubernetes would build it, with cluster hosts mapped to this machine. */
function environment(name: string): Record<string, string> {
  const workload = objects.find(
    (o) => (o.kind === "Deployment" || o.kind === "StatefulSet") && o.metadata.name === name,
  ) as Workload;
  const container = workload.spec.template.spec.containers[0]!;
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    const cm = byKind("ConfigMap", from.configMapRef!.name) as K8sObject & { data: Record<string, string> };
    Object.assign(env, cm.data);
  }
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value.replace(/\$\((\w+)\)/g, (_, v: string) => env[v] ?? "");
    else if (e.valueFrom?.secretKeyRef) {
      const value = secretValue(e.valueFrom.secretKeyRef);
      if (value !== undefined) env[e.name] = value;
    } else if (e.valueFrom?.fieldRef) env[e.name] = "0"; // the pod index of a single replica
  }
  if (env["PROCESSOR_PARTITION"]) env["PROCESSOR_PARTITION"] = `0/${env["PROCESSOR_PARTITIONS"]}`;
  env["NATS_URL"] = env["NATS_URL"]!.replace("nats://nats:4222", natsUrl);
  if (env["HYPERLIQUID_WS_URL"]) env["HYPERLIQUID_WS_URL"] = exchange.wsUrl;
  if (env["HYPERLIQUID_REST_URL"]) env["HYPERLIQUID_REST_URL"] = exchange.restUrl;
  env["HTTP_PORT"] = String(httpPorts[name]);
  return env;
}

const output = new Map<string, string>();
/** Permission violations the services themselves met (each line as logged). */
const serviceViolations: string[] = [];

function start(
  command: string,
  args: string[],
  options: { cwd: string; env: Record<string, string> },
): ChildProcess {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { PATH: `${process.env["PATH"] ?? ""}:/usr/sbin:/usr/local/bin`, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const key = `${command} ${options.cwd}`;
  const collect = (chunk: string) => {
    output.set(key, ((output.get(key) ?? "") + chunk).slice(-2000));
    for (const line of chunk.split("\n"))
      if (/permissions violation/i.test(line)) serviceViolations.push(line);
  };
  child.stdout.setEncoding("utf8").on("data", collect);
  child.stderr.setEncoding("utf8").on("data", collect);
  children.push(child);
  return child;
}

/** Distinct free ports (a port just released may be handed out twice). */
async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

beforeAll(async () => {
  workdir = mkdtempSync(join(tmpdir(), "ms-dev-overlay-"));
  // NATS with the rendered nats.conf + cluster.conf + auth.conf; only ports, store and pid file moved.
  const natsConfig = byKind("ConfigMap", "nats-config") as K8sObject & { data: Record<string, string> };
  for (const [file, text] of Object.entries(natsConfig.data)) {
    const local = text
      .replace("store_dir: /data", `store_dir: "${join(workdir, "store")}"`)
      .replace("pid_file: /var/run/nats/nats.pid", `pid_file: "${join(workdir, "nats.pid")}"`);
    writeFileSync(join(workdir, file), local);
  }
  const [clientPort, monitorPort, ...servicePorts] = await freePorts(2 + SERVICES.length);
  natsUrl = `nats://127.0.0.1:${clientPort}`;
  start(
    NATS_SERVER,
    [
      "-c",
      join(workdir, "nats.conf"),
      "-a",
      "127.0.0.1",
      "-p",
      String(clientPort),
      "-m",
      String(monitorPort),
    ],
    {
      cwd: workdir,
      env: {
        SERVER_NAME: "nats-0",
        NATS_CONNECTOR_PASSWORD: PASSWORDS["connector"],
        NATS_PROCESSOR_PASSWORD: PASSWORDS["processor"],
        NATS_STORAGE_PASSWORD: PASSWORDS["storage"],
        NATS_GATEWAY_PASSWORD: PASSWORDS["gateway"],
        NATS_OPERATOR_PASSWORD: PASSWORDS["operator"],
      },
    },
  );
  await waitFor(
    () =>
      fetch(`http://127.0.0.1:${monitorPort}/healthz?js-enabled-only=true`)
        .then((r) => r.ok)
        .catch(() => false),
    { timeoutMs: 20_000, message: "NATS with the manifest's configuration" },
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}\n${[...output.values()].join("\n")}`);
  });
  postgres = await startPostgres();
  exchange = await FakeHyperliquidServer.start();
  SERVICES.forEach((name, i) => (httpPorts[name] = servicePorts[i]!));
  const launch = (name: string) =>
    start("node", ["dist/main.js"], { cwd: join(ROOT, "services", name), env: environment(name) });
  // The readers first: they wait for the streams' owners (the connector comes only once storage waits).
  launch("storage-service");
  launch("processor-service");
  await waitFor(
    () => /waiting for its owner/.test(output.get(`node ${join(ROOT, "services", "storage-service")}`) ?? ""),
    { timeoutMs: 30_000, message: "storage waiting for the streams' owners" },
  );
  launch("connector-service");
  launch("gateway-service");
  for (const name of SERVICES) {
    await waitFor(
      () =>
        fetch(`http://127.0.0.1:${httpPorts[name]}/readyz`)
          .then((r) => r.ok)
          .catch(() => false),
      { timeoutMs: 30_000, message: `${name} ready` },
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${[...output.entries()].map(([k, v]) => `${k}: ${v}`).join("\n")}`);
    });
  }
}, 90_000);

const connections: NatsConnection[] = [];

afterAll(async () => {
  await Promise.all(connections.map((nc) => nc.close()));
  for (const child of children.reverse()) child.kill("SIGTERM");
  await Promise.all(
    children.map((c) => (c.exitCode === null ? new Promise((r) => c.once("exit", r)) : Promise.resolve())),
  );
  await exchange?.close();
  await postgres?.stop();
  rmSync(workdir, { recursive: true, force: true });
});

describe("the dev overlay, run locally with NATS auth", () => {
  it("carries exchange trades through every service to the gateway", async () => {
    const now = Date.now();
    exchange.pushTrades([
      { coin: "BTC", side: "B", px: "50000.5", sz: "0.25", time: now, hash: "0x01", tid: 9_000_001 },
      { coin: "BTC", side: "A", px: "50001", sz: "0.5", time: now + 1, hash: "0x02", tid: 9_000_002 },
    ]);
    const gateway = `http://127.0.0.1:${httpPorts["gateway-service"]}`;
    const trades = await waitFor(
      async () => {
        const res = await fetch(`${gateway}/v1/markets/BTC-USD/trades`);
        const body = (await res.json()) as { data: { payload: { trade_id?: string } }[] };
        return body.data.length >= 2 ? body.data : null;
      },
      { timeoutMs: 30_000, message: "trades at the gateway" },
    );
    expect(trades.map((t) => t.payload.trade_id).sort()).toEqual(["9000001", "9000002"]);
  });

  it("answers the documented requests: connector.health, processor.stats, storage.stats", async () => {
    const operator = await as("operator");
    const health = await operator.request("connector.health", "", { timeout: 5000 });
    expect(JSON.parse(health.string())).toHaveProperty("data");
    const stats = await operator.request("processor.stats", "", { timeout: 5000 });
    expect(JSON.parse(stats.string())).toHaveProperty("processors");
    const storage = await operator.request("storage.stats", "{}", { timeout: 5000 });
    expect(JSON.parse(storage.string())).toHaveProperty("total_events");
    // The gateway asks storage on its own inbox prefix.
    const gateway = await as("gateway");
    const reply = await gateway.request("storage.stats", "{}", { timeout: 5000 });
    expect(JSON.parse(reply.string())).toHaveProperty("total_events");
  });

  it("refuses what a role does not do: no one reads others' inboxes", async () => {
    await expectRefused("gateway", "subscription", "_INBOX.>", (nc) => nc.subscribe("_INBOX.>"));
    await expectRefused("gateway", "subscription", "_INBOX_storage.>", (nc) =>
      nc.subscribe("_INBOX_storage.>"),
    );
    await expectRefused("processor", "subscription", "_INBOX_connector.>", (nc) =>
      nc.subscribe("_INBOX_connector.>"),
    );
    await expectRefused("connector", "subscription", "processed.>", (nc) => nc.subscribe("processed.>"));
    await expectRefused("gateway", "publish", "market.trade.hyperliquid.BTC-USD", (nc) =>
      nc.publish("market.trade.hyperliquid.BTC-USD", "{}"),
    );
  });

  it("refuses stream management to everyone but a stream's owner, and deletes and purges to all", async () => {
    await expectRefused("processor", "publish", "$JS.API.STREAM.DELETE.MARKET", (nc) =>
      nc.publish("$JS.API.STREAM.DELETE.MARKET"),
    );
    await expectRefused("processor", "publish", "$JS.API.STREAM.PURGE.SYSTEM", (nc) =>
      nc.publish("$JS.API.STREAM.PURGE.SYSTEM"),
    );
    await expectRefused("processor", "publish", "$JS.API.STREAM.CREATE.ROGUE", (nc) =>
      nc.publish("$JS.API.STREAM.CREATE.ROGUE", JSON.stringify({ name: "ROGUE", subjects: ["rogue.>"] })),
    );
    await expectRefused("storage", "publish", "$JS.API.STREAM.CREATE.ROGUE", (nc) =>
      nc.publish("$JS.API.STREAM.CREATE.ROGUE", JSON.stringify({ name: "ROGUE", subjects: ["rogue.>"] })),
    );
    await expectRefused("storage", "publish", "$JS.API.STREAM.DELETE.PROCESSED", (nc) =>
      nc.publish("$JS.API.STREAM.DELETE.PROCESSED"),
    );
    await expectRefused("connector", "publish", "$JS.API.STREAM.UPDATE.PROCESSED", (nc) =>
      nc.publish(
        "$JS.API.STREAM.UPDATE.PROCESSED",
        JSON.stringify({ name: "PROCESSED", subjects: ["processed.>"], max_msgs: 1 }),
      ),
    );
    await expectRefused("connector", "publish", "$JS.API.STREAM.DELETE.MARKET", (nc) =>
      nc.publish("$JS.API.STREAM.DELETE.MARKET"),
    );
    // Nothing happened: the streams are there, PROCESSED unchanged, no stream ROGUE.
    const operator = await as("operator");
    const names = JSON.parse(
      (await operator.request("$JS.API.STREAM.NAMES", "", { timeout: 5000 })).string(),
    ) as {
      streams: string[];
    };
    expect(names.streams).toEqual(expect.arrayContaining(["MARKET", "PROCESSED", "SYSTEM"]));
    expect(names.streams).not.toContain("ROGUE");
    const processed = JSON.parse(
      (await operator.request("$JS.API.STREAM.INFO.PROCESSED", "", { timeout: 5000 })).string(),
    ) as { config: { max_msgs: number } };
    expect(processed.config.max_msgs).toBe(-1);
  });

  it("refuses a system event under another service's source", async () => {
    await expectRefused("processor", "publish", "system.connector_status.hyperliquid", (nc) =>
      nc.publish("system.connector_status.hyperliquid", "{}"),
    );
    await expectRefused("gateway", "publish", "system.error.storage-service", (nc) =>
      nc.publish("system.error.storage-service", "{}"),
    );
    await expect(connect({ servers: natsUrl, user: "gateway", pass: "wrong" })).rejects.toThrow();
  });

  it("let the services do their work without a single permissions violation", () => {
    expect(serviceViolations).toEqual([]);
  });
});

/** A connection as `user` (with its service's inbox prefix), closed after the file. */
async function as(user: User): Promise<NatsConnection> {
  const nc = await connect({
    servers: natsUrl,
    user,
    pass: PASSWORDS[user],
    ...(user === "operator" ? {} : { inboxPrefix: `_INBOX_${user}` }),
  });
  connections.push(nc);
  return nc;
}

/**
 * Does `action` as `user` on a fresh connection and waits for the server's permissions violation for
 * that operation and subject (an async error on the connection's status stream, or the end of the refused
 * subscription).
 */
async function expectRefused(
  user: User,
  operation: "publish" | "subscription",
  subject: string,
  action: (nc: NatsConnection) => Subscription | void,
): Promise<void> {
  const nc = await as(user);
  const errors: unknown[] = [];
  void (async () => {
    for await (const s of nc.status()) if (s.type === "error") errors.push(s.error);
  })();
  const sub = action(nc);
  void sub?.closed.then((e) => errors.push(e));
  await nc.flush().catch(() => undefined);
  await waitFor(
    () =>
      errors.some(
        (e) => e instanceof PermissionViolationError && e.operation === operation && e.subject === subject,
      ),
    {
      timeoutMs: 5000,
      message: `${user}: ${operation} to ${subject} refused (saw: ${errors.map(String).join("; ") || "nothing"})`,
    },
  );
}
