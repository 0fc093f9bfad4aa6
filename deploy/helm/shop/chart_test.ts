/**
 * Checks the Helm chart (deploy/helm/shop) without a cluster (none runs here): `helm lint --strict`;
 * `helm template` with the default values, the production example and the all-in-cluster CI values;
 * every manifest against the Kubernetes 1.37 schemas (kubernetes-validate --strict); checkov, each
 * finding fixed or explained in the chart's README; every environment variable a shop program gets is
 * one its config schema reads and the whole loads as its configuration; the network policies allow
 * exactly the call graph derived from the services' config schemas; probes are the images' own
 * HEALTHCHECKs; the gateway's Envoy configuration is the renderer's with the values in place and passes
 * `envoy --mode validate`; the PrometheusRule passes promtool; a migration Job's command migrates a
 * real PostgreSQL; the etcd-access Job's command sets up etcd's users on a real etcd from the Secrets
 * the certificates Job stores, mounted as the pods mount them; the certificates name their identity as
 * the DNS SAN callers verify. Tools come from `deno task setup`; a missing one fails the test with what
 * to run.
 *
 * @module
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { type ConfigOf, loadConfig, type Schema } from "@shop/platform/config";
import { ensureDevCertificates } from "@shop/platform/tls";
import {
  envoyBinary,
  freePort,
  postgresForTests,
  ProcessGroup,
  toolPath,
  toolsDir,
  waitUntil,
} from "@shop/platform/testing";
import { etcdAccessOf, EtcdClient } from "@shop/platform/discovery";
import { stripeCredentials } from "../../../services/payment/config.ts";
import { edgeConfigSchema } from "../../../services/edge/config.ts";
import { ensureEndpointFiles } from "../../../services/edge/eds_files.ts";
import { gatewayConfigSchema } from "../../../envoy/render_config.ts";
import { gatewayConfig, upstreamServices } from "../../../envoy/gateway_config.ts";
import { type DockerStage, parseDockerfile } from "../../../containers/dockerfile.ts";
import { envNamesOf, readVersions, shopPrograms } from "../../../containers/config_env.ts";
import { etcdAccessConfigSchema } from "../../../containers/etcd/access.ts";
import {
  chartGatewaySettings,
  gatewayTemplate,
  type GatewayValues,
  templatePath,
} from "../gateway_template.ts";

const chart = new URL(".", import.meta.url).pathname.replace(/\/$/, "");
const root = new URL("../../..", import.meta.url).pathname.replace(/\/$/, "");
const versions = await readVersions(root);

/** A tool `scripts/setup` installs into the cache; a missing one is an error naming the fix. */
async function tool(name: string, version: string | undefined, binary: string): Promise<string> {
  assert.ok(version, `scripts/lib/versions.env pins no version of ${name}`);
  const path = `${toolsDir()}/${name}-${version}/${binary}`;
  try {
    await Deno.stat(path);
  } catch {
    throw new Error(`${name} ${version} is missing (${path}): run \`deno task setup\`, which installs it`);
  }
  return path;
}

const helm = await tool("helm", versions.HELM_VERSION, "bin/helm");
const kubernetesValidate = await tool(
  "kubernetes-validate",
  versions.KUBERNETES_VALIDATE_VERSION,
  "bin/kubernetes-validate",
);
// kubernetes-validate's own Python reads YAML (PyYAML is its dependency): no YAML parser in the workspace.
const python = await tool("kubernetes-validate", versions.KUBERNETES_VALIDATE_VERSION, "venv/bin/python3");
const checkov = await tool("checkov", versions.CHECKOV_VERSION, "bin/checkov");
const promtool = await tool("prometheus", versions.PROMETHEUS_VERSION, "bin/promtool");

const decoder = new TextDecoder();

async function run(
  command: string,
  args: string[],
  options: { cwd?: string; stdin?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(command, {
    args,
    cwd: options.cwd ?? chart,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    ...(options.env === undefined ? {} : { env: options.env }),
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const out = await child.output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** YAML (one or more documents) to plain data, by PyYAML. */
async function parseYaml(text: string): Promise<unknown[]> {
  const out = await run(python, [
    "-c",
    "import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(sys.stdin) if d is not None]))",
  ], { stdin: text });
  assert.equal(out.code, 0, out.stderr);
  return JSON.parse(out.stdout);
}

// deno-lint-ignore no-explicit-any -- Kubernetes objects, walked by path in the checks below
type K8s = any;

/** The value sets the chart is rendered with. */
const valueSets: Record<string, string[]> = {
  default: [],
  production: ["-f", `${chart}/values-production.yaml`],
  "in-cluster": ["-f", `${chart}/ci/in-cluster-values.yaml`],
};

/** Helm's warning about files/rules, a link to observability/rules (on purpose: not a copy). */
const symlinkNotice =
  /^walk\.go:\d+: found symbolic link in path: \S+\/files\/rules resolves to \S+\/observability\/rules\. Contents of linked file included and used$/;

function unexpectedStderr(stderr: string): string[] {
  return stderr.split("\n").filter((line) => line.trim() !== "" && !symlinkNotice.test(line));
}

async function template(args: string[]): Promise<{ text: string; objects: K8s[] }> {
  const out = await run(helm, [
    "template",
    "shop",
    chart,
    "--namespace",
    "shop",
    "--kube-version",
    "1.37.0",
    ...args,
  ]);
  assert.equal(out.code, 0, out.stderr);
  assert.deepEqual(unexpectedStderr(out.stderr), [], "helm template printed warnings");
  return { text: out.stdout, objects: await parseYaml(out.stdout) };
}

const rendered: Record<string, { text: string; objects: K8s[] }> = {};
for (const [name, args] of Object.entries(valueSets)) rendered[name] = await template(args);

function objectsOf(set: string): K8s[] {
  const found = rendered[set];
  assert.ok(found, set);
  return found.objects;
}

function componentOf(object: K8s): string {
  return object.metadata?.labels?.["app.kubernetes.io/component"] ?? "";
}

/** The values a values file gives over values.yaml (by Helm's own merge: `helm template --show-only` cannot print values, so merge here). */
async function valuesOf(set: string): Promise<K8s> {
  const [base] = await parseYaml(await Deno.readTextFile(`${chart}/values.yaml`));
  const file = valueSets[set]?.[1];
  if (file === undefined) return base;
  const [over] = await parseYaml(await Deno.readTextFile(file));
  const merge = (a: K8s, b: K8s): K8s => {
    if (typeof a !== "object" || a === null || Array.isArray(a) || typeof b !== "object" || b === null) {
      return b;
    }
    const out: K8s = { ...a };
    for (const [key, value] of Object.entries(b)) out[key] = key in a ? merge(a[key], value) : value;
    return out;
  };
  return merge(base, over);
}

/** `helm template` with one `--set`, for what the chart must refuse: its exit code and output. */
function templateSetting(setting: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(helm, ["template", "shop", chart, "--kube-version", "1.37.0", "--set", setting]);
}

Deno.test("helm lint --strict passes with every values file, and refuses a grace shorter than the drain", async () => {
  for (const [name, args] of Object.entries(valueSets)) {
    const out = await run(helm, ["lint", "--strict", chart, ...args]);
    assert.equal(out.code, 0, `${name}: ${out.stdout}${out.stderr}`);
    assert.match(out.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    assert.deepEqual(unexpectedStderr(out.stderr), [], name);
  }
  const short = await templateSetting("services.order.terminationGracePeriodSeconds=20");
  assert.notEqual(short.code, 0);
  assert.match(
    short.stderr,
    /services\.order: terminationGracePeriodSeconds \(20\) must be longer than the drain \(22 s/,
  );
  // values.schema.json refuses a misspelt key and a value the renderer would refuse.
  for (
    const [set, error] of [
      ["servces.user.port=1", /additional properties 'servces' not allowed/],
      ["gateway.limits.signIn.rate=0", /gateway\/limits\/signIn\/rate': minimum: got 0, want 1/],
      ["gateway.jwt.maxLifetimeSeconds=30", /maxLifetimeSeconds': minimum: got 30, want 60/],
    ] as const
  ) {
    const refused = await templateSetting(set);
    assert.notEqual(refused.code, 0, set);
    assert.match(refused.stderr, error, set);
  }
});

/** Kinds that are not Kubernetes' own: their schemas come with their operators, not kubernetes-validate. */
const customKinds = new Set(["Certificate", "ServiceMonitor", "PrometheusRule"]);

Deno.test("every rendered manifest passes kubernetes-validate --strict (Kubernetes 1.37 schemas)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "shop-chart-" });
  try {
    for (const [name, { text, objects }] of Object.entries(rendered)) {
      const file = `${dir}/${name}.yaml`;
      await Deno.writeTextFile(file, text);
      const out = await run(kubernetesValidate, ["--strict", file]);
      const lines = (out.stdout + out.stderr).split("\n").filter((line) => line.trim() !== "");
      const failed = lines.filter((line) => !/^INFO .* passed for resource /.test(line));
      const unvalidated = failed.filter((line) => /Couldn't find schema for kind (\w+)/.test(line))
        .map((line) => /Couldn't find schema for kind (\w+)/.exec(line)?.[1]);
      // Only the operators' kinds may lack a schema; they are checked by the tests below instead.
      assert.deepEqual(
        failed.filter((line) =>
          !/Couldn't find schema for kind (Certificate|ServiceMonitor|PrometheusRule) /.test(line)
        ),
        [],
        name,
      );
      assert.equal(out.code, 0, `${name}: ${lines.join("\n")}`);
      const passed = lines.filter((line) => /^INFO .* passed for resource /.test(line)).length;
      assert.equal(passed + unvalidated.length, objects.length, `${name}: every object was looked at`);
      assert.ok(objects.filter((o) => !customKinds.has(o.kind)).length === passed, name);
    }
    // The validator does refuse what the API server would: an unknown field.
    const bad = `${dir}/bad.yaml`;
    await Deno.writeTextFile(bad, "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {bogus: 1}\n");
    const refused = await run(kubernetesValidate, ["--strict", bad]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stdout + refused.stderr, /'bogus' was unexpected/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkov: every finding is fixed or explained in the chart's README", async () => {
  const readme = await Deno.readTextFile(`${chart}/README.md`);
  const explained = new Set([...readme.matchAll(/^\| `(CKV2?_K8S_\d+)`\s*\|/gm)].map((match) => match[1]));
  assert.ok(explained.size > 0, "the README's checkov table lists no check");
  const dir = await Deno.makeTempDir({ prefix: "shop-checkov-" });
  const failing = new Map<string, Set<string>>();
  try {
    for (const [name, { text }] of Object.entries(rendered)) {
      const file = `${dir}/${name}.yaml`;
      await Deno.writeTextFile(file, text);
      const out = await run(checkov, [
        "-f",
        file,
        "--framework",
        "kubernetes",
        "--skip-download",
        "--quiet",
        "--compact",
        "-o",
        "json",
      ], { env: { BC_SKIP_MAPPING: "TRUE", CHECKOV_RUN_SCA_PACKAGE_SCAN_V2: "false" } });
      assert.ok(
        out.stdout.trim().startsWith("{") || out.stdout.trim().startsWith("["),
        `${name}: ${out.stderr}`,
      );
      const reports = [JSON.parse(out.stdout)].flat() as Array<
        {
          results: { failed_checks?: Array<{ check_id: string; resource: string }> };
          summary: { passed: number };
        }
      >;
      assert.ok(reports.some((report) => report.summary.passed > 0), `${name}: checkov ran no check`);
      for (const report of reports) {
        for (const check of report.results.failed_checks ?? []) {
          const resources = failing.get(check.check_id) ?? new Set();
          resources.add(`${name}: ${check.resource}`);
          failing.set(check.check_id, resources);
        }
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const unexplained = [...failing.keys()].filter((id) => !explained.has(id));
  assert.deepEqual(
    unexplained.map((id) => `${id}: ${[...(failing.get(id) ?? [])].slice(0, 3).join(", ")}`),
    [],
    "findings neither fixed nor explained in deploy/helm/shop/README.md",
  );
  // The README explains only what still fails: a fixed finding leaves its table.
  assert.deepEqual(
    [...explained].filter((id) => id !== undefined && !failing.has(id)),
    [],
    "explained but fixed",
  );
});

const stages = parseDockerfile(await Deno.readTextFile(`${root}/Dockerfile`));

function stage(name: string): DockerStage {
  const found = stages.find((candidate) => candidate.name === name);
  assert.ok(found, `the Dockerfile has no target ${name}`);
  return found;
}

/** The shop's programs, and the one-shot that sets up etcd's users (the etcd-access Job). */
const programs: Readonly<Record<string, { schema: Schema; prefix: string }>> = {
  ...shopPrograms,
  "etcd-access": { schema: etcdAccessConfigSchema, prefix: "SHOP_ETCD_ACCESS" },
};

/**
 * The tracing variables the kit reads from the environment itself (services/platform/tracing, from the
 * tracing work), found in its source; none before it lands.
 */
async function tracingEnvNames(): Promise<string[]> {
  try {
    const text = await Deno.readTextFile(`${root}/services/platform/tracing/tracing.ts`);
    return [...new Set([...text.matchAll(/env\.(SHOP_TRACING_[A-Z_]+)/g)].map((match) => match[1] ?? ""))];
  } catch {
    return [];
  }
}

/** What an operator's Secrets hold, by the variable they fill: valid production values. */
const secretExamples: Array<[RegExp, string]> = [
  [/_DATABASE_URL$/, "postgres://shop_svc:operator-secret@db.example.internal:5432/shop_svc"],
  [
    /^SHOP_PRODUCT_MONGO_URL$/,
    "mongodb+srv://shop_product:operator-secret@mongo.example.internal/shop_product",
  ],
  [/^SHOP_CART_REDIS_URL$/, "rediss://:operator-secret@redis.example.internal:6380"],
  [/^SHOP_PAYMENT_STRIPE_API_KEY$/, "sk_live_operatorKey"],
  [/^SHOP_PAYMENT_STRIPE_WEBHOOK_SECRET$/, "whsec_operatorSecret"],
  [/^SHOP_NOTIFICATION_SMTP_URL$/, "smtp://shop:operator-secret@smtp-relay.example.internal:587"],
  [/PASSWORD$/, "operator-secret"],
];

/** A container's environment as the kubelet gives it: Secrets filled in, `$(NAME)` expanded. */
function environmentOf(container: K8s): { env: Record<string, string>; expandedOnly: string[] } {
  const env: Record<string, string> = {};
  const referenced = new Set<string>();
  for (const entry of container.env ?? []) {
    let value: string;
    if (entry.valueFrom?.secretKeyRef !== undefined) {
      const example = secretExamples.find(([pattern]) => pattern.test(entry.name));
      assert.ok(example, `${container.name}: ${entry.name} comes from a Secret this test has no example for`);
      value = example[1];
    } else if (entry.valueFrom?.fieldRef !== undefined) {
      value = "10.1.2.3";
    } else {
      value = String(entry.value ?? "");
    }
    env[entry.name] = value.replace(/\$\(([A-Z_]+)\)/g, (_, name: string) => {
      referenced.add(name);
      const found = env[name];
      assert.ok(found !== undefined, `${container.name}: $(${name}) before ${name} is set`);
      return found;
    });
  }
  return { env, expandedOnly: [...referenced] };
}

/** Every container of the render with the Dockerfile target its image is built from. */
function shopContainers(
  objects: K8s[],
): Array<{ object: K8s; container: K8s; target: string; init: boolean }> {
  const found = [];
  for (const object of objects) {
    const spec = object.spec?.template?.spec;
    if (spec === undefined) continue;
    for (const [list, init] of [[spec.containers ?? [], false], [spec.initContainers ?? [], true]] as const) {
      for (const container of list) {
        const match = /^shop\/([a-z-]+):/.exec(container.image) ??
          /^registry\.example\.com\/shop\/([a-z-]+):/.exec(container.image);
        if (match?.[1] !== undefined) found.push({ object, container, target: match[1], init });
      }
    }
  }
  return found;
}

Deno.test("the environment of every shop program is a complete, valid production configuration of it", async () => {
  const tracing = await tracingEnvNames();
  for (const [set, { objects }] of Object.entries(rendered)) {
    const seen = new Set<string>();
    /** The etcd endpoints each program is given. */
    const etcdOf = new Map<string, string>();
    for (const { object, container, target } of shopContainers(objects)) {
      if (target === "certs") continue;
      const where = `${set}: ${object.kind} ${object.metadata.name}/${container.name}`;
      // The image's ENV first, the chart's on top, as the kubelet applies them.
      const { env: own, expandedOnly } = environmentOf(container);
      const env = { ...stage(target).env, ...own };
      const program = programs[target];
      assert.ok(program, `${where}: target ${target} has no config schema listed in this test`);
      const known = new Set([...envNamesOf(program.schema, program.prefix), ...tracing]);
      assert.deepEqual(
        Object.keys(own).filter((key) => !known.has(key) && !expandedOnly.includes(key)),
        [],
        `${where}: variables its config does not read`,
      );
      // Only NO_COLOR (the image's) and the expansion helpers are not the program's own.
      assert.deepEqual(
        Object.keys(env).filter((key) =>
          !key.startsWith("SHOP_") && key !== "NO_COLOR" && !expandedOnly.includes(key)
        ),
        [],
        where,
      );
      let config: ConfigOf<Schema>;
      try {
        config = loadConfig(program.schema, { envPrefix: program.prefix, env });
      } catch (error) {
        assert.fail(`${where}: ${(error as Error).message}`);
      }
      if (target === "etcd-access") {
        seen.add(target);
        const c = config as ConfigOf<typeof etcdAccessConfigSchema>;
        const certs = container.volumeMounts.find((mount: K8s) => mount.name === "certs");
        assert.equal(certs?.mountPath, c.certsDir, `${where}: the certificates are where it reads them`);
        etcdOf.set(target, `${c.endpoints.join(",")} ${c.prefix}`);
        continue;
      }
      if (object.kind === "Job") continue; // a migration reads only its database URL from this config
      seen.add(target);
      const c = config as K8s;
      if (c.mode !== undefined) assert.equal(c.mode, "production", where);
      if (c.discovery !== undefined) {
        etcdOf.set(target, `${c.discovery.etcd.join(",")} ${c.discovery.prefix}`);
      }
      if (c.server !== undefined) {
        assert.equal(c.server.host, "0.0.0.0", `${where} listens only on the pod's loopback`);
        assert.deepEqual(container.ports.map((port: K8s) => port.containerPort), [c.server.port], where);
        // The pod is killed only after the drain: the pre-stop delay and the shutdown grace.
        const grace = object.spec.template.spec.terminationGracePeriodSeconds * 1000;
        assert.ok(grace > c.server.preStopDelay + c.server.shutdownGrace, `${where}: grace ${grace} ms`);
        const certs = container.volumeMounts.find((mount: K8s) => mount.name === "certs");
        assert.equal(
          certs?.mountPath,
          c.tls.certsDir,
          `${where}: the certificate is where the config reads it`,
        );
        const volume = object.spec.template.spec.volumes.find((v: K8s) => v.name === "certs");
        assert.deepEqual(
          volume.projected.sources[0].secret.items.map((item: K8s) => item.path).sort(),
          ["ca.crt", `${target}.crt`, `${target}.key`].sort(),
          `${where}: readTlsFiles(certsDir, "${target}") finds its files`,
        );
        // Its etcd password where etcdAccessOf reads it, and no other identity's.
        assert.deepEqual(
          volume.projected.sources.slice(1).flatMap((source: K8s) => source.secret.items),
          [{ key: `${target}.password`, path: `etcd/${target}.password` }],
          `${where}: its etcd password`,
        );
      }
      if (target === "payment") {
        assert.equal(typeof stripeCredentials(c), "object", `${where}: ${stripeCredentials(c)}`);
      }
      if (target === "user") {
        const jwt = container.volumeMounts.find((mount: K8s) => mount.name === "jwt");
        assert.equal(jwt?.mountPath, c.jwt.keysDir, where);
      }
      if (target === "edge") {
        const endpoints = container.volumeMounts.find((mount: K8s) => mount.name === "endpoints");
        assert.equal(endpoints?.mountPath, c.endpoints.dir, where);
        const certs = object.spec.template.spec.volumes.find((v: K8s) => v.name === "edge-certs");
        assert.deepEqual(
          certs.projected.sources.slice(1).flatMap((source: K8s) => source.secret.items),
          [{ key: "edge.password", path: "etcd/edge.password" }],
          `${where}: its etcd password`,
        );
      }
    }
    // The etcd-access Job sets up the etcd and the registry prefix the services use.
    assert.equal(etcdOf.get("etcd-access"), etcdOf.get("order"), `${set}: etcd-access's etcd`);
    assert.deepEqual(
      [...seen].sort(),
      [
        "cart",
        "edge",
        "etcd-access",
        "gateway-config",
        "notification",
        "order",
        "payment",
        "product",
        "user",
      ],
      `${set}: every program was checked`,
    );
  }
});

Deno.test("every shop Deployment: two replicas or more, the image's own HEALTHCHECK as exec probes, restricted pods, a PDB, an HPA, its own ServiceAccount", () => {
  for (const [set, { objects }] of Object.entries(rendered)) {
    const deployments = objects.filter((o) => o.kind === "Deployment");
    assert.deepEqual(
      deployments.map(componentOf).sort(),
      ["cart", "gateway", "notification", "order", "payment", "product", "user"],
      set,
    );
    for (const deployment of deployments) {
      const name = deployment.metadata.name;
      const where = `${set}: ${name}`;
      const hpa = objects.find((o) =>
        o.kind === "HorizontalPodAutoscaler" && o.spec.scaleTargetRef.name === name
      );
      const replicas = deployment.spec.replicas ?? hpa?.spec.minReplicas;
      assert.ok(replicas >= 2, `${where}: ${replicas} replicas`);
      if (set !== "in-cluster") assert.ok(hpa, `${where} has no HorizontalPodAutoscaler`);
      assert.ok(
        objects.some((o) =>
          o.kind === "PodDisruptionBudget" &&
          JSON.stringify(o.spec.selector.matchLabels) === JSON.stringify(deployment.spec.selector.matchLabels)
        ),
        `${where} has no PodDisruptionBudget`,
      );
      const pod = deployment.spec.template.spec;
      assert.equal(pod.serviceAccountName, name, where);
      assert.ok(objects.some((o) => o.kind === "ServiceAccount" && o.metadata.name === name), where);
      assert.equal(pod.automountServiceAccountToken, false, where);
      for (const container of pod.containers) {
        const target = /\/([a-z-]+):[^/]+$/.exec(container.image)?.[1] ?? "";
        if (target in programs) {
          const healthcheck = stage(target).healthcheck;
          assert.ok(healthcheck, `${target} has no HEALTHCHECK`);
          // The HEALTHCHECK's last word is its default port; the chart passes the port it configures,
          // which SHOP_<SVC>_SERVER_PORT sets too (the probe reads that first).
          const port = container.ports?.[0]?.containerPort;
          const expected = target === "edge" ? healthcheck : [...healthcheck.slice(0, -1), String(port)];
          for (const probe of ["readinessProbe", "livenessProbe"]) {
            assert.deepEqual(
              container[probe]?.exec?.command,
              expected,
              `${where}/${container.name}: ${probe}`,
            );
          }
        } else {
          assert.ok(
            container.readinessProbe && container.livenessProbe,
            `${where}/${container.name}: probes`,
          );
        }
      }
    }
    // Every pod of the chart: restricted (non-root, read-only root, no escalation, no capability,
    // RuntimeDefault seccomp), with requests and limits.
    for (const object of objects) {
      const pod = object.spec?.template?.spec;
      if (pod === undefined) continue;
      const where = `${set}: ${object.kind} ${object.metadata.name}`;
      assert.equal(pod.securityContext?.runAsNonRoot, true, where);
      assert.equal(pod.securityContext?.seccompProfile?.type, "RuntimeDefault", where);
      for (const container of [...pod.containers, ...(pod.initContainers ?? [])]) {
        const sc = container.securityContext ?? {};
        assert.deepEqual(
          [sc.allowPrivilegeEscalation, sc.readOnlyRootFilesystem, sc.runAsNonRoot, sc.capabilities?.drop],
          [false, true, true, ["ALL"]],
          `${where}/${container.name}`,
        );
        assert.equal(sc.capabilities?.add, undefined, `${where}/${container.name}`);
        for (const kind of ["requests", "limits"]) {
          assert.ok(
            container.resources?.[kind]?.cpu && container.resources?.[kind]?.memory,
            `${where}/${container.name}: ${kind}`,
          );
        }
      }
    }
  }
});

/** The stores a config schema names (its top-level groups), as network policy peers. */
const storeGroups: Record<string, string> = {
  database: "postgres",
  mongo: "mongo",
  redis: "redis",
  stripe: "stripe",
  smtp: "smtp",
};

/**
 * The call graph as the services' config schemas state it: a service calls each service it has an
 * address group for (`product: { url }`: fixed address or discovery), uses each store it names, and
 * etcd when it has `discovery`; the gateway calls the upstreams of its Envoy configuration; the edge
 * bridge (in the gateway's pod) reads etcd.
 */
function derivedCallGraph(): Set<string> {
  const services = Object.keys(shopPrograms).filter((name) => name !== "edge" && name !== "gateway-config");
  const pairs = new Set<string>();
  for (const name of services) {
    const schema = shopPrograms[name]?.schema ?? {};
    for (const [group, node] of Object.entries(schema)) {
      if (services.includes(group) && typeof node === "object" && node !== null && "url" in node) {
        pairs.add(`${name} -> ${group}`);
      }
      const store = storeGroups[group];
      if (store !== undefined) pairs.add(`${name} -> ${store}`);
      if (group === "discovery") pairs.add(`${name} -> etcd`);
    }
    pairs.add(`${name} -> dns`);
    pairs.add(`prometheus -> ${name}`);
  }
  for (const upstream of upstreamServices) pairs.add(`gateway -> ${upstream}`);
  if ("etcd" in edgeConfigSchema) pairs.add("gateway -> etcd");
  pairs.add("gateway -> dns");
  pairs.add("clients -> gateway");
  return pairs;
}

/** The allowed pairs of the rendered network policies, `from -> to`, with external peers named by port. */
function policyPairs(objects: K8s[], values: K8s): { pairs: Set<string>; oneSided: string[] } {
  const pairs = new Set<string>();
  const egress = new Set<string>();
  const ingress = new Set<string>();
  const external = (port: number, component: string): string => {
    if (port === values.postgres.port) return "postgres";
    if (port === values.mongo.port) return "mongo";
    if (port === values.redis.port) return "redis";
    if (port === values.tracing.port) return "otlp";
    if (component === "payment" && port === 443) return "stripe";
    if (component === "notification" && port === values.services.notification.smtp.port) return "smtp";
    if (component === "certs" && (port === 443 || port === 6443)) return "kube-api";
    return `unknown:${port}`;
  };
  const peerName = (peer: K8s, port: number, component: string): string => {
    if (peer.ipBlock !== undefined) return component === "gateway" ? "clients" : external(port, component);
    const ns = peer.namespaceSelector?.matchLabels?.["kubernetes.io/metadata.name"];
    if (ns === values.dns.namespace) return "dns";
    if (ns === values.metrics.prometheus.namespace) return "prometheus";
    return peer.podSelector?.matchLabels?.["app.kubernetes.io/component"] ?? "unknown";
  };
  for (const policy of objects.filter((o) => o.kind === "NetworkPolicy")) {
    const component = policy.spec.podSelector.matchLabels?.["app.kubernetes.io/component"];
    if (component === undefined) continue; // the default deny
    for (const rule of policy.spec.ingress ?? []) {
      for (const peer of rule.from ?? []) {
        for (const { port } of rule.ports ?? []) {
          const from = peerName(peer, port, component);
          pairs.add(`${from} -> ${component}`);
          ingress.add(`${from} -> ${component}`);
        }
      }
    }
    for (const rule of policy.spec.egress ?? []) {
      for (const peer of rule.to ?? []) {
        for (const { port } of rule.ports ?? []) {
          const to = peerName(peer, port, component);
          pairs.add(`${component} -> ${to}`);
          egress.add(`${component} -> ${to}`);
        }
      }
    }
  }
  // Between two pods of the release, both ends must allow the call.
  const pods = new Set(objects.filter((o) => o.spec?.template !== undefined).map(componentOf));
  const oneSided = [...pairs].filter((pair) => {
    const [from, to] = pair.split(" -> ");
    if (!pods.has(from ?? "") || !pods.has(to ?? "") || from === to) return false;
    return !(egress.has(pair) && ingress.has(pair));
  });
  return { pairs, oneSided };
}

Deno.test("the network policies deny by default and allow exactly the call graph of the services' config schemas", async () => {
  const graph = derivedCallGraph();
  // What the schemas say, spelled out once so a reader sees it (derived, not copied into the policy check).
  for (
    const pair of [
      "order -> product",
      "order -> payment",
      "payment -> order",
      "cart -> order",
      "notification -> user",
    ]
  ) {
    assert.ok(graph.has(pair), `the schemas no longer say ${pair}`);
  }
  const services = ["user", "product", "order", "payment", "notification", "cart", "gateway"];
  for (const [set, { objects }] of Object.entries(rendered)) {
    const values = await valuesOf(set);
    const deny = objects.find((o) =>
      o.kind === "NetworkPolicy" &&
      o.spec.podSelector.matchLabels?.["app.kubernetes.io/component"] === undefined
    );
    assert.deepEqual(deny?.spec, {
      podSelector: { matchLabels: { "app.kubernetes.io/instance": "shop" } },
      policyTypes: ["Ingress", "Egress"],
    }, `${set}: the default deny`);
    const { pairs, oneSided } = policyPairs(objects, values);
    assert.deepEqual(oneSided, [], `${set}: allowed on one end only`);
    const ofServices = [...pairs].filter((pair) => {
      const [from, to] = pair.split(" -> ");
      return services.includes(from ?? "") || services.includes(to ?? "");
    }).filter((pair) => !/^(migrate-\w+|mongo-init|etcd) -> /.test(pair));
    assert.deepEqual(ofServices.sort(), [...graph].sort(), set);
    // Every pod of the release has a policy of its own.
    const covered = new Set(
      objects.filter((o) => o.kind === "NetworkPolicy").map((o) =>
        o.spec.podSelector.matchLabels?.["app.kubernetes.io/component"]
      ),
    );
    for (const object of objects.filter((o) => o.spec?.template !== undefined)) {
      assert.ok(
        covered.has(componentOf(object)),
        `${set}: ${object.kind} ${object.metadata.name} has no policy`,
      );
    }
    // The Jobs: migrations reach their database, the certificates Job the API server, nothing else.
    for (const svc of ["user", "order", "payment", "notification"]) {
      assert.deepEqual(
        [...pairs].filter((pair) => pair.startsWith(`migrate-${svc} -> `)).sort(),
        [`migrate-${svc} -> dns`, `migrate-${svc} -> postgres`],
        set,
      );
    }
    // The etcd-access Job reaches etcd's client port (and etcd admits it), nothing else.
    assert.deepEqual([...pairs].filter((pair) => pair.startsWith("etcd-access -> ")).sort(), [
      "etcd-access -> dns",
      "etcd-access -> etcd",
    ], set);
    if (!values.certManager.enabled) {
      assert.deepEqual([...pairs].filter((pair) => pair.startsWith("certs -> ")).sort(), [
        "certs -> dns",
        "certs -> kube-api",
      ]);
    }
    assert.ok(![...pairs].some((pair) => pair.includes("unknown")), [...pairs].join("\n"));
  }
});

Deno.test("traces: with an OTLP endpoint every service gets it and may reach it; without, neither", async () => {
  const endpoint = "http://otel-collector.observability.svc:4318";
  const { objects } = await template(["--set", `tracing.otlpEndpoint=${endpoint}`]);
  const values = await valuesOf("default");
  const { pairs } = policyPairs(objects, values);
  for (const svc of ["user", "product", "order", "payment", "notification", "cart"]) {
    assert.ok(pairs.has(`${svc} -> otlp`), svc);
    assert.ok(!policyPairs(objectsOf("default"), values).pairs.has(`${svc} -> otlp`), svc);
    const deployment = objects.find((o) => o.kind === "Deployment" && componentOf(o) === svc);
    const env = environmentOf(deployment.spec.template.spec.containers[0]).env;
    assert.equal(env.SHOP_TRACING_ENDPOINT, endpoint, svc);
  }
  const names = await tracingEnvNames();
  if (names.length > 0) {
    assert.ok(names.includes("SHOP_TRACING_ENDPOINT"), "the kit reads SHOP_TRACING_ENDPOINT");
  }
});

/** The gateway's envoy.json from a render's ConfigMap. */
function envoyJsonOf(objects: K8s[]): Record<string, unknown> {
  const configMap = objects.find((o) => o.kind === "ConfigMap" && componentOf(o) === "gateway");
  assert.ok(configMap, "no gateway ConfigMap");
  return JSON.parse(configMap.data["envoy.json"]);
}

Deno.test("the gateway runs the renderer's configuration with the values in place, and envoy --mode validate accepts it", async () => {
  // The committed template is what the renderer gives now (also `deno task static`).
  assert.equal(await Deno.readTextFile(templatePath), gatewayTemplate(), "run `deno task helm:gen`");
  // The chart's defaults are the renderer's (ARCHITECTURE.md section 5's dev limits).
  const defaults = loadConfig(gatewayConfigSchema, { envPrefix: "SHOP_GATEWAY", env: {} });
  const base = await valuesOf("default");
  assert.deepEqual(base.gateway.limits, defaults.limits);
  assert.deepEqual(base.gateway.jwt, defaults.jwt);
  assert.deepEqual(base.gateway.upstream, defaults.upstream);
  const certsDir = await ensureDevCertificates();
  for (const set of ["default", "in-cluster", "production"]) {
    const values = (await valuesOf(set)).gateway as GatewayValues;
    const config = envoyJsonOf(objectsOf(set));
    assert.deepEqual(config, JSON.parse(JSON.stringify(gatewayConfig(chartGatewaySettings(values)))), set);
    // The same file with this machine's paths in place of the pod's, validated by Envoy itself.
    const dir = await Deno.makeTempDir({ prefix: "shop-chart-envoy-" });
    try {
      await ensureEndpointFiles(`${dir}/endpoints`, upstreamServices);
      const local = JSON.stringify(config)
        .replaceAll('"/certs/', `"${certsDir}/`)
        .replaceAll('"/endpoints', `"${dir}/endpoints`)
        .replaceAll('"/gateway/shop.binpb"', `"${root}/proto/gen/shop.binpb"`)
        .replaceAll('"/gateway/openapi.json"', `"${root}/proto/gen/openapi.json"`)
        .replaceAll('"/tmp/envoy-admin.sock"', `"${dir}/admin.sock"`);
      await Deno.writeTextFile(`${dir}/envoy.json`, local);
      const out = await run(envoyBinary(), [
        "--mode",
        "validate",
        "-c",
        `${dir}/envoy.json`,
        "--use-dynamic-base-id",
      ]);
      assert.equal(out.code, 0, `${set}: ${out.stdout}${out.stderr}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
  // Non-default values reach Envoy: the CI values' limits and issuer are in its configuration.
  const text = JSON.stringify(envoyJsonOf(objectsOf("in-cluster")));
  assert.match(text, /"issuer":"shop-test-issuer"/);
  assert.match(text, /"max_tokens":31,"tokens_per_fill":9/);
  assert.match(text, /"timeout":"7\.5s"/);
});

Deno.test("the PrometheusRules hold observability/rules, one per file, and promtool accepts each", async () => {
  const rules = objectsOf("production").filter((o) => o.kind === "PrometheusRule");
  assert.deepEqual(rules.map((rule) => rule.metadata.name), ["shop-rules-recording", "shop-rules-alerts"]);
  const dir = await Deno.makeTempDir({ prefix: "shop-chart-rules-" });
  try {
    for (const rule of rules) {
      const file = rule.metadata.name.replace("shop-rules-", "");
      const [source] = await parseYaml(await Deno.readTextFile(`${root}/observability/rules/${file}.yml`));
      assert.deepEqual(rule.spec.groups, (source as K8s).groups, file);
      // As the operator writes it: one rule file per PrometheusRule.
      await Deno.writeTextFile(`${dir}/${file}.json`, JSON.stringify({ groups: rule.spec.groups }));
      const out = await run(promtool, ["check", "rules", `${dir}/${file}.json`]);
      assert.equal(out.code, 0, out.stdout + out.stderr);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  // The ServiceMonitors give the job and labels the rules select on, over the prometheus identity's mTLS.
  const monitors = objectsOf("production").filter((o) => o.kind === "ServiceMonitor");
  assert.equal(monitors.length, 6);
  for (const monitor of monitors) {
    const service = objectsOf("production").find((o) =>
      o.kind === "Service" && componentOf(o) === componentOf(monitor)
    );
    assert.equal(service.metadata.labels[monitor.spec.jobLabel], "shop", 'job="shop"');
    const [endpoint] = monitor.spec.endpoints;
    assert.equal(endpoint.scheme, "https");
    assert.equal(endpoint.tlsConfig.serverName, componentOf(monitor));
    assert.equal(endpoint.tlsConfig.keySecret.name, "shop-tls-prometheus");
  }
});

Deno.test("certificates: a Secret per identity, from cert-manager or the Job, named as the pods mount them", () => {
  for (const [set, { objects }] of Object.entries(rendered)) {
    const mounted = new Set<string>();
    for (const object of objects) {
      for (const volume of object.spec?.template?.spec?.volumes ?? []) {
        for (const source of volume.projected?.sources ?? []) {
          if (source.secret?.name?.startsWith("shop-tls-")) mounted.add(source.secret.name);
        }
      }
    }
    const certificates = objects.filter((o) => o.kind === "Certificate");
    if (set === "production") {
      for (const name of mounted) {
        const certificate = certificates.find((c) => c.spec.secretName === name);
        assert.ok(certificate, `${set}: no Certificate makes ${name}`);
        const identity = name.slice("shop-tls-".length);
        assert.deepEqual(certificate.spec.uris, [`spiffe://shop.local/${identity}`]);
        // The name callers verify whatever pod IP they dial (services/platform/client/endpoint_tunnel.ts).
        assert.equal(certificate.spec.dnsNames[0], identity, `${name}: DNS SAN ${identity}`);
      }
      assert.ok(!objects.some((o) => o.kind === "Job" && componentOf(o) === "certs"));
    } else {
      assert.equal(certificates.length, 0);
      const job = objects.find((o) => o.kind === "Job" && componentOf(o) === "certs");
      assert.ok(job, `${set}: the certificates Job`);
      assert.match(job.metadata.annotations["helm.sh/hook"], /pre-install/);
      const issue = job.spec.template.spec.initContainers[0];
      assert.deepEqual(issue.command, ["bash", "scripts/certs", "/work/certs"]);
      assert.deepEqual(stage("certs").copies.flatMap((c) => c.sources), [
        "scripts/certs",
        "containers/certs/run.sh",
      ]);
      const script = job.spec.template.spec.containers[0].command.join(" ");
      for (const name of mounted) {
        const identity = name.slice("shop-tls-".length);
        assert.match(
          script,
          new RegExp(`for id in [a-z ]*\\b${identity}\\b`),
          `${set}: the Job stores ${name}`,
        );
      }
    }
    assert.ok(mounted.size >= 8, [...mounted].join(", "));
  }
});

Deno.test("a migration Job's command applies the service's migrations to a real PostgreSQL, once", async () => {
  const job = objectsOf("default").find((o) => o.kind === "Job" && componentOf(o) === "migrate-order");
  assert.ok(job);
  assert.match(job.metadata.annotations["helm.sh/hook"], /pre-upgrade/);
  const [deno, ...args] = job.spec.template.spec.containers[0].command;
  assert.equal(deno, "deno");
  await using db = await (await postgresForTests()).createDatabase({ label: "chart_migrate" });
  const script = args.at(-1)?.replaceAll("file:///app/", `file://${root}/`);
  assert.ok(script);
  const migrate = () =>
    run(Deno.execPath(), [...args.slice(0, -1).filter((arg: string) => arg !== "--cached-only"), script], {
      cwd: root,
      env: { SHOP_ORDER_DATABASE_URL: db.url, NO_COLOR: "1" },
    });
  const first = await migrate();
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /"applied":[1-9]/);
  const again = await migrate();
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /"applied":0/);
});

/** The identities whose certificates the certificates Job's script stores. */
function certsJobIdentities(script: string): string[] {
  return /for id in ([a-z ]+); do/.exec(script)?.[1]?.split(" ") ?? [];
}

/** The files of the Secrets the certificates Job stores, read from its script: Secret name -> key -> file in `issued`. */
function secretsOfCertsJob(objects: K8s[], issued: string): Map<string, Map<string, string>> {
  const job = objects.find((o) => o.kind === "Job" && componentOf(o) === "certs");
  assert.ok(job, "the certificates Job");
  const script: string = job.spec.template.spec.containers[0].command.at(-1);
  const identities = certsJobIdentities(script);
  const tlsPrefix = /secret="([a-z-]+)-\$id"/.exec(script)?.[1];
  assert.ok(tlsPrefix && identities.length > 0, script);
  const secrets = new Map<string, Map<string, string>>();
  for (const id of identities) {
    const data = new Map<string, string>();
    for (
      const [, key, file] of script.matchAll(
        /--from-file=(tls\.crt|tls\.key|ca\.crt)="?\/work\/certs\/([^"\s]+)"?/g,
      )
    ) {
      data.set(key ?? "", `${issued}/${(file ?? "").replace("$id", id)}`);
    }
    secrets.set(`${tlsPrefix}-${id}`, data);
  }
  const passwords = /secret="([a-z-]+-etcd-passwords)"[\s\S]*?\n\s*fi\b/.exec(script);
  if (passwords !== null) {
    const data = new Map<string, string>();
    for (
      const [, key, file] of passwords[0].matchAll(/--from-file=([a-z]+\.password)=\/work\/certs\/(\S+)/g)
    ) {
      data.set(key ?? "", `${issued}/${file}`);
    }
    secrets.set(passwords[1] ?? "", data);
  }
  return secrets;
}

/** A projected volume as the kubelet lays it out in `dir`, from the Secrets' files. */
async function project(volume: K8s, secrets: Map<string, Map<string, string>>, dir: string): Promise<string> {
  for (const source of volume.projected.sources) {
    const data = secrets.get(source.secret.name);
    assert.ok(data, `no Secret ${source.secret.name}`);
    for (const item of source.secret.items) {
      const file = data.get(item.key);
      assert.ok(file, `the Secret ${source.secret.name} has no key ${item.key}`);
      const target = `${dir}/${item.path}`;
      await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
      await Deno.copyFile(file, target);
    }
  }
  return dir;
}

Deno.test("the etcd-access Job, run as rendered on a real etcd with the certificates Job's Secrets: auth on, each service writes only its own registrations, a second run changes nothing, a changed password takes effect", async () => {
  for (const [set, { objects }] of Object.entries(rendered)) {
    const spec = etcdAccessJob(objects);
    assert.equal(spec.metadata.annotations["helm.sh/hook"], "post-install,post-upgrade", set);
    assert.equal(spec.spec.template.spec.restartPolicy, "OnFailure", set);
    assert.equal(spec.spec.template.spec.automountServiceAccountToken, false, set);
  }
  // With cert-manager no Job makes the passwords: an existing Secret must be named.
  const refused = await templateSetting("certManager.enabled=true");
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /etcd\.auth\.passwordsSecret: with certManager\.enabled/);
  const off = await template(["--set", "etcd.auth.enabled=false"]);
  assert.ok(!off.objects.some((o) => componentOf(o) === "etcd-access"), "auth off: no Job");
  assert.ok(!off.text.includes("etcd-passwords"), "auth off: no password anywhere");

  const objects = objectsOf("default");
  const dir = await Deno.makeTempDir({ prefix: "shop-chart-etcd-" });
  const group = await ProcessGroup.create();
  try {
    // What the certificates Job's first container makes (scripts/certs), stored as its script stores it.
    const issued = await ensureDevCertificates(`${dir}/issued`);
    const secrets = secretsOfCertsJob(objects, issued);
    const podOf = (component: string, volume = "certs") => {
      const object = objects.find((o) => o.spec?.template !== undefined && componentOf(o) === component);
      const found = object?.spec.template.spec.volumes.find((v: K8s) => v.name === volume);
      assert.ok(found, `${component}: volume ${volume}`);
      return project(found, secrets, `${dir}/${component}-${volume}`);
    };
    // An etcd with TLS and client certificates, authentication still off, as the chart's starts.
    const [port, peerPort] = [freePort(), freePort()];
    const url = `https://127.0.0.1:${port}`;
    const etcd = await group.start({
      name: "etcd",
      command: toolPath("etcd", "etcd"),
      args: [
        "--name=chart",
        `--data-dir=${dir}/etcd-data`,
        `--listen-client-urls=${url}`,
        `--advertise-client-urls=${url}`,
        `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-cluster=chart=http://127.0.0.1:${peerPort}`,
        `--cert-file=${issued}/etcd.crt`,
        `--key-file=${issued}/etcd.key`,
        `--trusted-ca-file=${issued}/ca.crt`,
        "--client-cert-auth",
      ],
      unsetEnv: Object.keys(Deno.env.toObject()).filter((name) => name.startsWith("ETCD")),
    });
    const orderDir = await podOf("order");
    const asOrder = new EtcdClient(
      await etcdAccessOf({ endpoints: [url], certsDir: orderDir, identity: "order" }),
    );
    const { auth: _none, ...certificateOnly } = await etcdAccessOf({
      endpoints: [url],
      certsDir: orderDir,
      identity: "order",
    });
    const anonymous = new EtcdClient(certificateOnly);
    try {
      await waitUntil(etcd, () => anonymous.rangePrefix("/").then(() => true, () => false));
      // Before the Job: the services' sign-in is refused (they retry; nothing crashes).
      await assert.rejects(asOrder.put("/shop/services/order/early", "{}"), /authentication is not enabled/);

      const jobDir = await podOf("etcd-access");
      const container = etcdAccessJob(objects).spec.template.spec.containers[0];
      const image = stage("etcd-access");
      assert.equal(container.volumeMounts[0].mountPath, image.env.SHOP_ETCD_ACCESS_CERTS_DIR);
      const [deno, ...args] = image.cmd ?? [];
      assert.equal(deno, "deno");
      const { env } = environmentOf(container);
      const runJob = () =>
        run(Deno.execPath(), args.filter((arg) => arg !== "--cached-only"), {
          cwd: root,
          env: {
            ...image.env,
            ...env,
            SHOP_ETCD_ACCESS_ENDPOINTS: url,
            SHOP_ETCD_ACCESS_CERTS_DIR: jobDir,
            NO_COLOR: "1",
          },
        });
      for (const attempt of ["first", "second"]) {
        const out = await runJob();
        assert.equal(out.code, 0, `${attempt} run: ${out.stdout}${out.stderr}`);
        assert.match(out.stdout, /authentication on/, attempt);
      }

      // A service registers under its own name, as itself, and nowhere else.
      await asOrder.put("/shop/services/order/i-1", "{}");
      await assert.rejects(asOrder.put("/shop/services/product/i-1", "{}"), /permission denied/);
      // The edge bridge (the gateway pod's etcd identity) reads the registry.
      const asEdge = new EtcdClient(
        await etcdAccessOf({
          endpoints: [url],
          certsDir: await podOf("gateway", "edge-certs"),
          identity: "edge",
        }),
      );
      try {
        const listed = await asEdge.rangePrefix("/shop/services/");
        assert.deepEqual(listed.kvs.map((kv) => kv.key), ["/shop/services/order/i-1"]);
      } finally {
        asEdge.close();
      }
      // A certificate of the shop's CA without the user is no longer enough.
      await assert.rejects(
        anonymous.put("/shop/services/order/i-2", "{}"),
        /user name is empty|permission denied/,
      );

      // A password changed in the Secret (in every volume that projects it) takes effect at the next run.
      for (const where of [jobDir, orderDir]) {
        await Deno.writeTextFile(`${where}/etcd/order.password`, "changed-in-the-secret");
      }
      const third = await runJob();
      assert.equal(third.code, 0, `third run: ${third.stdout}${third.stderr}`);
      const asOrderNow = new EtcdClient(
        await etcdAccessOf({ endpoints: [url], certsDir: orderDir, identity: "order" }),
      );
      try {
        await asOrderNow.put("/shop/services/order/i-3", "{}");
      } finally {
        asOrderNow.close();
      }
      await assert.rejects(asOrder.put("/shop/services/order/i-4", "{}"), /authentication failed/);
    } finally {
      asOrder.close();
      anonymous.close();
    }
  } finally {
    await group.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

function etcdAccessJob(objects: K8s[]): K8s {
  const found = objects.find((o) => o.kind === "Job" && componentOf(o) === "etcd-access");
  assert.ok(found, "the etcd-access Job");
  return found;
}

Deno.test("the certificates Job's certificates name their identity as a DNS SAN, the name callers verify at any pod IP", async () => {
  const job = objectsOf("default").find((o) => o.kind === "Job" && componentOf(o) === "certs");
  assert.ok(job);
  const issue = job.spec.template.spec.initContainers[0];
  const { env } = environmentOf(issue);
  const dir = await Deno.makeTempDir({ prefix: "shop-chart-certs-" });
  try {
    // The Job's first container: scripts/certs with the Job's environment.
    const out = await run("bash", [`${root}/${issue.command[1]}`, dir], { cwd: root, env });
    assert.equal(out.code, 0, out.stderr);
    const identities = certsJobIdentities(job.spec.template.spec.containers[0].command.at(-1));
    assert.ok(identities.includes("client") && identities.includes("order"), identities.join(" "));
    for (const identity of identities) {
      const sans = new X509Certificate(await Deno.readTextFile(`${dir}/${identity}.crt`)).subjectAltName ??
        "";
      const names = sans.split(", ");
      assert.ok(names.includes(`DNS:${identity}`), `${identity}: ${sans}`);
      assert.ok(names.includes(`URI:spiffe://shop.local/${identity}`), `${identity}: ${sans}`);
      assert.ok(names.includes(`DNS:shop-${identity}.shop.svc`), `${identity}: ${sans}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
