import type { NatsConnection } from "@nats-io/transport-node";
import { Svcm, type Service } from "@nats-io/services";
import { RuntimeError } from "./runtime-error.js";

export type { Service, ServiceGroup, ServiceMsg, Endpoint } from "@nats-io/services";

/**
 * `@nats-io/services@3.0.0-25` (the only version published) pins `@nats-io/nats-core@3.0.0-50`, so its
 * `NatsConnection` is a second, nominally different copy of ours (their `Match` enums differ). At run
 * time a 3.4.0 connection works with it (PING/INFO/STATS and endpoints are covered by the int test).
 */
type SvcmConnection = ConstructorParameters<typeof Svcm>[0];

export interface MicroServiceOptions {
  /** Letters, digits, `-` and `_` only (no dots): `nats micro ls` lists it under this name. */
  name: string;
  /** Semver, e.g. `0.1.0`. */
  version: string;
  description?: string;
  metadata?: Record<string, string>;
}

/**
 * Registers the process as a NATS micro service, so `$SRV.PING|INFO|STATS` (and `nats micro ls`)
 * see it. Add endpoints on the result: `service.addGroup("storage").addEndpoint("events", handler)`.
 * Endpoints share the queue group `q`, so replicas load-balance. Stop it with `service.stop()`
 * before draining the connection.
 */
export async function registerMicroService(
  nc: NatsConnection,
  options: MicroServiceOptions,
): Promise<Service> {
  try {
    return await new Svcm(nc as unknown as SvcmConnection).add({
      name: options.name,
      version: options.version,
      ...(options.description === undefined ? {} : { description: options.description }),
      ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new RuntimeError(
      "MICRO_SERVICE_FAILED",
      `cannot register micro service ${options.name}: ${message}`,
      {
        cause: error,
      },
    );
  }
}
