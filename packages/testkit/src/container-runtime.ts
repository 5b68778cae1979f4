import type * as Testcontainers from "testcontainers";
import { describeError } from "./testkit-error.js";

export type TestcontainersModule = typeof Testcontainers;
export type StartedContainer = Testcontainers.StartedTestContainer;

let probe: Promise<TestcontainersModule> | undefined;

/**
 * Loads testcontainers (lazily, so this package loads on machines without Docker) and checks that a
 * container runtime answers. Rejects with the runtime's reason otherwise. The probe runs once per process.
 */
export function loadContainerRuntime(): Promise<TestcontainersModule> {
  probe ??= (async () => {
    const testcontainers = await import("testcontainers");
    await testcontainers.getContainerRuntimeClient();
    return testcontainers;
  })();
  return probe;
}

/** `loadContainerRuntime()` or, when no runtime works, the reason as a string. */
export async function tryContainerRuntime(): Promise<
  { ok: true; testcontainers: TestcontainersModule } | { ok: false; reason: string }
> {
  try {
    return { ok: true, testcontainers: await loadContainerRuntime() };
  } catch (error) {
    return { ok: false, reason: describeError(error) };
  }
}

/**
 * Fault injection for a started container, mirroring what the process harness offers. Mapped ports can
 * change when a container starts again, so callers read them afresh after `start`/`restart`.
 */
export function containerLifecycle(testcontainers: TestcontainersModule, container: StartedContainer) {
  let down = false;
  let stopped: Promise<void> | undefined;
  return {
    async start(): Promise<void> {
      if (!down) return;
      // `docker restart` also starts a stopped container; testcontainers then re-reads ports and waits.
      await container.restart({ timeout: 0 });
      down = false;
    },
    async restart(): Promise<void> {
      await container.restart({ timeout: 10 });
      down = false;
    },
    async kill(): Promise<void> {
      if (down) return;
      const client = await testcontainers.getContainerRuntimeClient();
      await client.container.getById(container.getId()).kill({ signal: "SIGKILL" });
      down = true;
    },
    stop(): Promise<void> {
      stopped ??= container.stop({ timeout: 10 }).then(() => undefined);
      return stopped;
    },
  };
}
