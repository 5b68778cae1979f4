import { redactSecrets } from "./redact.js";

export interface HealthCheck {
  readonly ok: boolean;
  readonly detail?: string;
}

export interface HealthSnapshot {
  readonly live: boolean;
  readonly ready: boolean;
  readonly draining: boolean;
  readonly checks: Readonly<Record<string, HealthCheck>>;
}

/**
 * Liveness and readiness of a process, as `/healthz` and `/readyz` report them. Live until told
 * otherwise; ready while live, not draining and every named check is ok. Register checks early
 * (`new HealthState(["nats"])` starts them not ok) so the process is not ready before they pass.
 */
export class HealthState {
  #live = true;
  #draining = false;
  readonly #checks = new Map<string, HealthCheck>();

  constructor(pendingChecks: readonly string[] = []) {
    for (const name of pendingChecks) this.#checks.set(name, { ok: false, detail: "pending" });
  }

  get live(): boolean {
    return this.#live;
  }

  get draining(): boolean {
    return this.#draining;
  }

  get ready(): boolean {
    if (!this.#live || this.#draining) return false;
    for (const check of this.#checks.values()) if (!check.ok) return false;
    return true;
  }

  setLive(live: boolean): void {
    this.#live = live;
  }

  /** `detail` (often an error's message) is shown on `/healthz`: URL credentials in it become `***`. */
  setCheck(name: string, ok: boolean, detail?: string): void {
    this.#checks.set(name, detail === undefined ? { ok } : { ok, detail: redactSecrets(detail) });
  }

  removeCheck(name: string): void {
    this.#checks.delete(name);
  }

  /** Readiness off for good: the process is shutting down. */
  startDraining(): void {
    this.#draining = true;
  }

  snapshot(): HealthSnapshot {
    return {
      live: this.#live,
      ready: this.ready,
      draining: this.#draining,
      checks: Object.fromEntries(this.#checks),
    };
  }
}
