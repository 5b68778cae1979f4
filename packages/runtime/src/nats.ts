import { readFileSync } from "node:fs";
import {
  connect,
  credsAuthenticator,
  type NatsConnection,
  type NodeConnectionOptions,
  type Status,
} from "@nats-io/transport-node";
import type { NatsEnv } from "./config.js";
import type { HealthState } from "./health-state.js";
import type { Logger } from "./logger.js";
import { redactSecrets } from "./redact.js";
import { RuntimeError } from "./runtime-error.js";

/** The NATS variables of a parsed config (`natsEnv`, or anything extending it). */
export type NatsConfig = Pick<
  NatsEnv,
  "NATS_URL" | "NATS_USER" | "NATS_PASSWORD" | "NATS_TOKEN" | "NATS_CREDS"
> &
  Partial<Pick<NatsEnv, "NATS_INBOX_PREFIX">>;

export const NATS_HEALTH_CHECK = "nats";

/**
 * Connection options every service uses: reconnect forever (the client's default gives up after
 * 10 tries, ~20 s, and then stays closed), wait for the first connect (NATS may start after us),
 * no async stack traces (they cost ~40% of a JetStream publisher's CPU), the configured auth and inbox
 * prefix (`NATS_INBOX_PREFIX`: every reply inbox, JetStream's included, is under it).
 */
export function natsConnectionOptions(config: NatsConfig, options: { name: string }): NodeConnectionOptions {
  const connectionOptions: NodeConnectionOptions = {
    servers: [...config.NATS_URL],
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1_000,
    reconnectJitter: 500,
    noAsyncTraces: true,
    waitOnFirstConnect: true,
  };
  if (config.NATS_INBOX_PREFIX !== undefined) connectionOptions.inboxPrefix = config.NATS_INBOX_PREFIX;
  if (config.NATS_USER !== undefined) {
    connectionOptions.user = config.NATS_USER;
    if (config.NATS_PASSWORD !== undefined) connectionOptions.pass = config.NATS_PASSWORD;
  }
  if (config.NATS_TOKEN !== undefined) connectionOptions.token = config.NATS_TOKEN;
  if (config.NATS_CREDS !== undefined) {
    let creds: Uint8Array;
    try {
      creds = readFileSync(config.NATS_CREDS);
    } catch (error) {
      throw new RuntimeError("NATS_CREDS_UNREADABLE", `cannot read NATS_CREDS file ${config.NATS_CREDS}`, {
        cause: error,
      });
    }
    connectionOptions.authenticator = credsAuthenticator(creds);
  }
  return connectionOptions;
}

export interface ConnectNatsOptions {
  /** The connection name the server shows (e.g. in `/connz`). */
  name: string;
  logger: Logger;
  /** Gets a `nats` check: ok while connected. */
  health?: HealthState;
}

/**
 * Connects (waiting for a server if none is up yet) and logs every status change of the connection;
 * with `health`, keeps its `nats` check in step with the connection.
 */
export async function connectNats(config: NatsConfig, options: ConnectNatsOptions): Promise<NatsConnection> {
  const logger = options.logger.child({ component: "nats" });
  const health = options.health;
  health?.setCheck(NATS_HEALTH_CHECK, false, "connecting");
  let nc: NatsConnection;
  try {
    nc = await connect(natsConnectionOptions(config, { name: options.name }));
  } catch (error) {
    if (error instanceof RuntimeError) throw error;
    const message = redactSecrets(error instanceof Error ? error.message : String(error));
    health?.setCheck(NATS_HEALTH_CHECK, false, `connect failed: ${message}`);
    throw new RuntimeError(
      "NATS_CONNECT_FAILED",
      `cannot connect to NATS (${redactSecrets(config.NATS_URL.join(","))}): ${message}`,
      {
        cause: error,
      },
    );
  }
  health?.setCheck(NATS_HEALTH_CHECK, true);
  logger.info({ server: nc.getServer() }, "connected to NATS");

  void (async () => {
    try {
      for await (const status of nc.status()) logStatus(logger, status, health);
    } catch (error) {
      logger.error({ err: error }, "NATS status watch failed");
    }
  })();
  void nc.closed().then((error) => {
    health?.setCheck(NATS_HEALTH_CHECK, false, "closed");
    if (error) logger.error({ err: error }, "NATS connection closed with an error");
    else logger.info("NATS connection closed");
  });
  return nc;
}

function logStatus(logger: Logger, status: Status, health: HealthState | undefined): void {
  switch (status.type) {
    case "disconnect":
      health?.setCheck(NATS_HEALTH_CHECK, false, "disconnected");
      logger.warn({ server: status.server }, "disconnected from NATS");
      return;
    case "reconnect":
      health?.setCheck(NATS_HEALTH_CHECK, true);
      logger.info({ server: status.server }, "reconnected to NATS");
      return;
    case "reconnecting":
      logger.debug("reconnecting to NATS");
      return;
    case "error":
      logger.error({ err: status.error }, "NATS error");
      return;
    case "update":
      logger.info(
        { added: status.added ?? [], deleted: status.deleted ?? [] },
        "NATS cluster servers changed",
      );
      return;
    case "ldm":
      logger.warn({ server: status.server }, "NATS server entered lame duck mode");
      return;
    case "ping":
      logger.trace({ pendingPings: status.pendingPings }, "NATS ping");
      return;
    case "staleConnection":
      logger.warn("NATS connection is stale");
      return;
    case "slowConsumer":
      logger.warn({ subject: status.sub.getSubject(), pending: status.pending }, "slow NATS consumer");
      return;
    case "forceReconnect":
      logger.info("NATS reconnect forced");
      return;
    case "close":
      logger.debug("NATS connection closing");
      return;
  }
}
