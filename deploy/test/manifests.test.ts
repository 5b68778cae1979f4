import { connectorEnv } from "@market-scraper/connector-service";
import { gatewayEnv } from "@market-scraper/gateway-service";
import { processorEnv } from "@market-scraper/processor-service";
import { parseEnv } from "@market-scraper/runtime";
import { storageEnv } from "@market-scraper/storage-service";
import { currentNatsBinaries } from "@market-scraper/testkit";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import { Deployment, StatefulSet } from "kubernetes-models/apps/v1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { ConfigMap, Namespace, Secret, Service, ServiceAccount } from "kubernetes-models/v1";

import { describe, expect, it } from "vitest";
import { type K8sObject, VARIANTS, render } from "./render.js";

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  "v1/Namespace": Namespace,
  "v1/ConfigMap": ConfigMap,
  "v1/Secret": Secret,
  "v1/Service": Service,
  "v1/ServiceAccount": ServiceAccount,
  "apps/v1/Deployment": Deployment,
  "apps/v1/StatefulSet": StatefulSet,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
  "keda.sh/v1alpha1/ScaledObject": ScaledObject,
};

/** Each service's env schema, its HTTP port and the drain its grace period must outlast. */
const SERVICES: Record<string, { schema: Parameters<typeof parseEnv>[0]; port: number }> = {
  "connector-service": { schema: connectorEnv, port: 9101 },
  "processor-service": { schema: processorEnv, port: 9102 },
  "storage-service": { schema: storageEnv, port: 9103 },
  "gateway-service": { schema: gatewayEnv, port: 8080 },
};
/** runtime's runService shutdownTimeoutMs default. */
const SERVICE_DRAIN_S = 25;
/** Variables a manifest sets for Kubernetes' own `$(VAR)` expansion, not read by the service. */
const MANIFEST_ONLY_VARS = new Set(["POD_INDEX", "PROCESSOR_PARTITIONS"]);
/** The paths runtime's HTTP server (and the gateway's) answer. */
const PROBE_PATHS = new Set(["/healthz", "/readyz"]);

interface Container {
  name: string;
  image: string;
  ports?: { name?: string; containerPort: number }[];
  env?: {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: object };
  }[];
  envFrom?: { configMapRef?: { name: string } }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { drop?: string[] };
  };
}
interface Probe {
  httpGet?: { path: string; port: string | number };
  exec?: unknown;
}
interface PodTemplate {
  metadata: { labels: Record<string, string> };
  spec: {
    containers: Container[];
    terminationGracePeriodSeconds?: number;
    securityContext?: { runAsNonRoot?: boolean };
  };
}

const workloads = (objects: K8sObject[]) =>
  objects.filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet") as (K8sObject & {
    spec: { selector: { matchLabels: Record<string, string> }; template: PodTemplate; serviceName?: string };
  })[];

const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

/** The environment a container would see: its ConfigMaps, then its env (secrets get a sample value). */
function containerEnv(objects: K8sObject[], container: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    const cm = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === from.configMapRef?.name) as
      (K8sObject & { data: Record<string, string> }) | undefined;
    expect(cm, `ConfigMap ${from.configMapRef?.name}`).toBeDefined();
    Object.assign(env, cm!.data);
  }
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value.replace(/\$\((\w+)\)/g, (_, v: string) => env[v] ?? "");
    else if (e.valueFrom?.secretKeyRef) env[e.name] = sampleSecret(e.name);
    else if (e.valueFrom?.fieldRef) env[e.name] = "0";
  }
  return env;
}

function sampleSecret(variable: string): string {
  if (variable === "DATABASE_URL") return "postgres://market:secret@postgres:5432/market";
  if (variable === "GATEWAY_API_KEYS") return "sample-key-one,sample-key-two";
  return "sample-secret";
}

describe.each(VARIANTS)("kustomize $name", (variant) => {
  const objects = render(variant);

  it("renders objects that all validate against the Kubernetes API schemas", () => {
    expect(objects.length).toBeGreaterThan(10);
    for (const o of objects) {
      const Model = MODELS[`${o.apiVersion}/${o.kind}`];
      expect(Model, `no schema for ${o.apiVersion}/${o.kind}`).toBeDefined();
      expect(() => new Model!(o as never).validate(), `${o.kind}/${o.metadata.name}`).not.toThrow();
      expect(o.metadata.namespace ?? "market-scraper", `${o.kind}/${o.metadata.name}`).toBe("market-scraper");
    }
  });

  it("labels everything and has selectors that match what they select", () => {
    const pods = workloads(objects);
    for (const w of pods) {
      const labels = w.spec.template.metadata.labels;
      expect(matches(w.spec.selector.matchLabels, labels), `${w.metadata.name} selector`).toBe(true);
      for (const key of [
        "app.kubernetes.io/name",
        "app.kubernetes.io/component",
        "app.kubernetes.io/part-of",
      ]) {
        expect(labels[key], `${w.metadata.name} ${key}`).toBeTruthy();
        expect(w.metadata.labels?.[key], `${w.metadata.name} ${key}`).toBeTruthy();
      }
      if (w.kind === "StatefulSet") {
        expect(objects.some((o) => o.kind === "Service" && o.metadata.name === w.spec.serviceName)).toBe(
          true,
        );
      }
    }
    const selects = (selector: Record<string, string>) =>
      pods.some((w) => matches(selector, w.spec.template.metadata.labels));
    for (const o of objects) {
      const spec = o["spec"] as Record<string, unknown> | undefined;
      if (o.kind === "Service")
        expect(selects(spec!["selector"] as Record<string, string>), `Service ${o.metadata.name}`).toBe(true);
      if (o.kind === "PodDisruptionBudget") {
        const sel = (spec!["selector"] as { matchLabels: Record<string, string> }).matchLabels;
        expect(selects(sel), `PDB ${o.metadata.name}`).toBe(true);
      }
      if (o.kind === "HorizontalPodAutoscaler" || o.kind === "ScaledObject") {
        const ref = spec!["scaleTargetRef"] as { kind?: string; name: string };
        expect(
          pods.some((w) => w.metadata.name === ref.name && (ref.kind ?? "Deployment") === w.kind),
          `${o.kind} ${o.metadata.name}`,
        ).toBe(true);
      }
      if (o.kind === "NetworkPolicy") {
        const sel = spec!["podSelector"] as {
          matchLabels?: Record<string, string>;
          matchExpressions?: { values: string[] }[];
        };
        if (sel.matchLabels) expect(selects(sel.matchLabels), `NetworkPolicy ${o.metadata.name}`).toBe(true);
        for (const expr of sel.matchExpressions ?? []) {
          for (const name of expr.values)
            expect(selects({ "app.kubernetes.io/name": name }), name).toBe(true);
        }
      }
    }
  });

  it("hardens every pod: non-root, read-only root, no escalation, no capabilities, limits, probes", () => {
    for (const w of workloads(objects)) {
      const spec = w.spec.template.spec;
      expect(spec.securityContext?.runAsNonRoot, w.metadata.name).toBe(true);
      for (const c of spec.containers) {
        const where = `${w.metadata.name}/${c.name}`;
        expect(c.securityContext?.readOnlyRootFilesystem, where).toBe(true);
        expect(c.securityContext?.allowPrivilegeEscalation, where).toBe(false);
        expect(c.securityContext?.capabilities?.drop, where).toEqual(["ALL"]);
        expect(c.resources?.requests?.["cpu"] && c.resources.requests["memory"], where).toBeTruthy();
        expect(c.resources?.limits?.["cpu"] && c.resources.limits["memory"], where).toBeTruthy();
        expect(c.livenessProbe, where).toBeDefined();
        expect(c.readinessProbe, where).toBeDefined();
        expect(c.image, where).toMatch(/:[\w.-]+$/);
      }
    }
  });

  it("runs each service with an environment its config schema accepts, probed where it serves", () => {
    for (const [name, { schema, port }] of Object.entries(SERVICES)) {
      const w = workloads(objects).find((x) => x.metadata.name === name);
      expect(w, name).toBeDefined();
      const spec = w!.spec.template.spec;
      expect(spec.terminationGracePeriodSeconds, name).toBeGreaterThan(SERVICE_DRAIN_S);
      const container = spec.containers[0]!;
      const env = containerEnv(objects, container);
      const known = new Set(Object.keys(schema.shape));
      for (const variable of Object.keys(env)) {
        if (!MANIFEST_ONLY_VARS.has(variable))
          expect(known, `${name} does not read ${variable}`).toContain(variable);
      }
      const config = parseEnv(schema, env) as { HTTP_PORT: number };
      expect(config.HTTP_PORT, name).toBe(port);
      const ports = container.ports ?? [];
      for (const probe of [container.livenessProbe!, container.readinessProbe!]) {
        const get = probe.httpGet!;
        expect(PROBE_PATHS, `${name} probe path`).toContain(get.path);
        const target =
          typeof get.port === "number" ? get.port : ports.find((p) => p.name === get.port)?.containerPort;
        expect(target, `${name} probe port`).toBe(port);
      }
      const svc = objects.find((o) => o.kind === "Service" && o.metadata.name === name) as
        (K8sObject & { spec: { ports: { port: number }[] } }) | undefined;
      expect(svc?.spec.ports[0]?.port, `${name} Service port`).toBe(port);
    }
  });
});

describe("the prod overlay, secure by default", () => {
  const prod = render({ name: "prod", overlay: "prod", components: [] });
  const dev = render({ name: "dev", overlay: "dev", components: [] });
  const natsConfig = (objects: K8sObject[]) =>
    (
      objects.find(
        (o) => o.kind === "ConfigMap" && o.metadata.name.startsWith("nats-config"),
      ) as K8sObject & { data: Record<string, string> }
    ).data;
  const serviceEnv = (objects: K8sObject[], name: string) =>
    containerEnv(
      objects,
      workloads(objects).find((w) => w.metadata.name === name)!.spec.template.spec.containers[0]!,
    );

  it("renders NetworkPolicies: default deny and one per flow", () => {
    const policies = prod.filter((o) => o.kind === "NetworkPolicy").map((o) => o.metadata.name);
    expect(policies).toContain("default-deny");
    expect(policies.length).toBeGreaterThan(1);
    expect(dev.map((o) => `${o.kind}/${o.metadata.name}`)).not.toContain("NetworkPolicy/default-deny"); // dev: opt-in
  });

  it("renders NATS auth: one user per service, each service connecting as its user with its own inboxes", () => {
    expect(natsConfig(prod)["auth.conf"]).toMatch(/authorization \{/);
    for (const user of ["connector", "processor", "storage", "gateway", "operator"]) {
      expect(natsConfig(prod)["auth.conf"]).toContain(`user: ${user}\n`);
    }
    for (const name of Object.keys(SERVICES)) {
      const env = serviceEnv(prod, name);
      const user = name.replace("-service", "");
      expect(env, name).toMatchObject({ NATS_USER: user, NATS_INBOX_PREFIX: `_INBOX_${user}` });
      expect(env["NATS_PASSWORD"], name).toBeDefined();
    }
    expect(natsConfig(dev)["auth.conf"]).not.toMatch(/authorization/); // dev: opt-in
  });

  it("runs the NATS server version .ci/install-nats pins (the one the nats-auth test runs)", () => {
    const nats = workloads(prod).find((w) => w.metadata.name === "nats")!;
    expect(nats.spec.template.spec.containers[0]!.image).toBe(`nats:${currentNatsBinaries().version}-alpine`);
  });
});
