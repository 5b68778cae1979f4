import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

export const K8S_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "k8s");

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

export interface Variant {
  name: string;
  overlay: "dev" | "prod";
  components: readonly ("network-policies" | "nats-auth" | "keda")[];
}

/** Every overlay, alone and with the components that apply to it. */
export const VARIANTS: readonly Variant[] = [
  { name: "dev", overlay: "dev", components: [] },
  { name: "dev + network-policies", overlay: "dev", components: ["network-policies"] },
  { name: "dev + nats-auth", overlay: "dev", components: ["nats-auth"] },
  {
    name: "dev + network-policies + nats-auth",
    overlay: "dev",
    components: ["network-policies", "nats-auth"],
  },
  // prod includes network-policies and nats-auth itself (secure by default).
  { name: "prod", overlay: "prod", components: [] },
  { name: "prod + keda", overlay: "prod", components: ["keda"] },
];

/** Renders an overlay with components through `kubectl kustomize`, as `kubectl apply -k` would. */
export function render(variant: Variant): K8sObject[] {
  const dir = mkdtempSync(join(K8S_DIR, ".render-"));
  try {
    const rel = (p: string) => relative(dir, join(K8S_DIR, p));
    writeFileSync(
      join(dir, "kustomization.yaml"),
      [
        "apiVersion: kustomize.config.k8s.io/v1beta1",
        "kind: Kustomization",
        `resources: [${rel(`overlays/${variant.overlay}`)}]`,
        `components: [${variant.components.map((c) => rel(`components/${c}`)).join(", ")}]`,
        "",
      ].join("\n"),
    );
    const out = execFileSync("kubectl", ["kustomize", dir], { encoding: "utf8" });
    return parseAllDocuments(out).map((d) => d.toJS() as K8sObject);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
