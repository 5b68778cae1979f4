/**
 * Where a harness server comes from: `external` (an env URL or a shared local server, not ours),
 * `process` (a binary we spawned) or `container` (testcontainers).
 */
export type ServerKind = "external" | "process" | "container";
