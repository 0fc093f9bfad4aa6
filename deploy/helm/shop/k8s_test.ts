/**
 * The chart installed into a real Kubernetes control plane (issue 18's spike; `deno task k8s`, which sets
 * `SHOP_K8S=1`: the default `deno task test` leaves this test out, its tools being a build of their
 * own, `scripts/setup-k8s`). On free ports of 127.0.0.1: etcd (the one `deno task setup` installs), a
 * kube-apiserver built from k8s.io/kubernetes (self-signed serving certificate, a static admin token,
 * a service-account signing key, all made here), its controller manager and scheduler, and KWOK
 * standing in for three nodes (it reports pods Running and Ready, and a Job's pods Succeeded, without
 * running a container: no image is pulled). Then `helm install` with the default values into a
 * namespace that enforces the "restricted" Pod Security Standard; every object of the release is read
 * back from the API server, every workload's pods reach Running; `helm upgrade` with a changed value
 * rolls every Deployment out, and `helm rollback` rolls them back.
 *
 * @module
 */
import assert from "node:assert/strict";
import { eventually, freePort, ProcessGroup, startEtcd, toolsDir, waitUntil } from "@shop/platform/testing";
import { readVersions } from "../../../containers/config_env.ts";

const chart = new URL(".", import.meta.url).pathname.replace(/\/$/, "");
const root = new URL("../../..", import.meta.url).pathname.replace(/\/$/, "");
const release = "shop";
const namespace = "shop";
const decoder = new TextDecoder();

/** A JSON object as the API server returns it. */
type Json = Record<string, unknown>;

/** A tool of the cache; a missing one is an error naming the script that installs it. */
async function tool(
  name: string,
  version: string | undefined,
  binary: string,
  setup: string,
): Promise<string> {
  assert.ok(version, `scripts/lib/versions.env pins no version of ${name}`);
  const path = `${toolsDir()}/${name}-${version}/${binary}`;
  try {
    await Deno.stat(path);
  } catch {
    throw new Error(`${name} ${version} is missing (${path}): run \`${setup}\`, which installs it`);
  }
  return path;
}

/** Runs a command to its end; a failure is an error with its output. */
async function run(
  command: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<string> {
  const out = await new Deno.Command(command, {
    args,
    ...options,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const stdout = decoder.decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `${command} ${args.join(" ")} failed (${out.code}):\n${stdout}${decoder.decode(out.stderr)}`,
    );
  }
  return stdout;
}

/** The certificates and keys of the control plane, and the admin's token, made in `dir`. */
async function makePki(dir: string): Promise<{ ca: string; token: string }> {
  // In `dir`, with file names only: the arguments are plain words.
  const openssl = (line: string) => run("openssl", line.split(" "), { cwd: dir });
  const ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
  await openssl(`req -x509 ${ec} -keyout ca.key -out ca.crt -days 2 -subj /CN=shop-k8s-test-ca`);
  await openssl(`req ${ec} -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver`);
  await Deno.writeTextFile(
    `${dir}/apiserver.ext`,
    "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n",
  );
  await openssl(
    "x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile apiserver.ext -out apiserver.crt",
  );
  // The service-account tokens' signing key: the API server checks with the public half, the controller
  // manager signs with the private one.
  await openssl("genrsa -out sa.key 2048");
  await openssl("rsa -in sa.key -pubout -out sa.pub");
  const token = crypto.randomUUID();
  // system:masters: every control-plane part and helm act as the cluster's administrator here.
  await Deno.writeTextFile(`${dir}/tokens.csv`, `${token},shop-admin,shop-admin,"system:masters"\n`);
  return { ca: await Deno.readTextFile(`${dir}/ca.crt`), token };
}

/** A client of the API server's REST API, with the admin's token. */
class Api {
  readonly #client: Deno.HttpClient;
  constructor(readonly server: string, readonly token: string, ca: string) {
    this.#client = Deno.createHttpClient({ caCerts: [ca] });
  }

  async request(method: string, path: string, body?: Json): Promise<{ status: number; json: Json }> {
    const response = await fetch(`${this.server}${path}`, {
      method,
      client: this.#client,
      headers: { authorization: `Bearer ${this.token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, json: text.startsWith("{") ? JSON.parse(text) : { text } };
  }

  async get(path: string): Promise<Json> {
    const { status, json } = await this.request("GET", path);
    if (status !== 200) throw new Error(`GET ${path}: ${status} ${JSON.stringify(json)}`);
    return json;
  }

  async create(path: string, body: Json): Promise<Json> {
    const { status, json } = await this.request("POST", path, body);
    if (status !== 201) throw new Error(`POST ${path}: ${status} ${JSON.stringify(json)}`);
    return json;
  }

  close(): void {
    this.#client.close();
  }
}

/** A field of a JSON object, by path; undefined when any step is missing. */
function field(object: unknown, ...path: string[]): unknown {
  let value = object;
  for (const key of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Json)[key];
  }
  return value;
}

function items(list: Json): Json[] {
  const value = list.items;
  return Array.isArray(value) ? value : [];
}

/** The REST path of an object: the resource found by the API server's discovery of its kind. */
async function objectPath(api: Api, object: Json): Promise<string> {
  const apiVersion = String(object.apiVersion);
  const kind = String(object.kind);
  const base = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const resources = (await api.get(base)).resources;
  const resource = (Array.isArray(resources) ? resources : []).find((r: Json) =>
    r.kind === kind && !String(r.name).includes("/")
  );
  assert.ok(resource, `the API server serves no ${kind} in ${apiVersion}`);
  const scope = resource.namespaced === true
    ? `/namespaces/${String(field(object, "metadata", "namespace") ?? namespace)}`
    : "";
  return `${base}${scope}/${String(resource.name)}/${String(field(object, "metadata", "name"))}`;
}

/** Starts the control plane and KWOK in `group`; returns the API client and a kubeconfig for helm. */
async function startCluster(group: ProcessGroup): Promise<{ api: Api; kubeconfig: string }> {
  const versions = await readVersions(root);
  const k8s = versions.KUBERNETES_VERSION;
  const bin = (binary: string) => tool("kube-apiserver", k8s, `bin/${binary}`, "bash scripts/setup-k8s");
  const [apiserver, controllerManager, scheduler, kwok] = await Promise.all([
    bin("kube-apiserver"),
    bin("kube-controller-manager"),
    bin("kube-scheduler"),
    tool("kwok", versions.KWOK_VERSION, "bin/kwok", "bash scripts/setup-k8s"),
  ]);
  const kwokStages = await tool("kwok", versions.KWOK_VERSION, "stages.yaml", "bash scripts/setup-k8s");
  const pki = `${group.dir}/pki`;
  await Deno.mkdir(pki);
  const { ca, token } = await makePki(pki);

  const etcd = await startEtcd(group, {
    port: freePort(),
    peerPort: freePort(),
    dataDir: `${group.dir}/etcd`,
  });

  const port = freePort();
  const server = `https://127.0.0.1:${port}`;
  const process = await group.start({
    name: "kube-apiserver",
    command: apiserver,
    args: [
      `--etcd-servers=${etcd.url}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      // The reconciler of the `kubernetes` Service's endpoints refuses a loopback address ("cannot use
      // public IP 127.0.0.1 with endpoint reconciler"); nothing here calls the API server through it.
      "--endpoint-reconciler-type=none",
      `--secure-port=${port}`,
      `--cert-dir=${pki}`,
      `--tls-cert-file=${pki}/apiserver.crt`,
      `--tls-private-key-file=${pki}/apiserver.key`,
      `--token-auth-file=${pki}/tokens.csv`,
      "--authorization-mode=RBAC",
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-key-file=${pki}/sa.pub`,
      `--service-account-signing-key-file=${pki}/sa.key`,
      "--service-cluster-ip-range=10.96.0.0/16",
      "--profiling=false",
    ],
  });
  const api = new Api(server, token, ca);
  await waitUntil(process, async () => (await api.request("GET", "/readyz")).status === 200, 180_000);

  const kubeconfig = `${group.dir}/kubeconfig`;
  await Deno.writeTextFile(
    kubeconfig,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "test", cluster: { server, "certificate-authority": `${pki}/ca.crt` } }],
      users: [{ name: "admin", user: { token } }],
      contexts: [{ name: "test", context: { cluster: "test", user: "admin" } }],
      "current-context": "test",
    }),
  );
  await group.start({
    name: "kube-controller-manager",
    command: controllerManager,
    args: [
      `--kubeconfig=${kubeconfig}`,
      "--leader-elect=false",
      "--bind-address=127.0.0.1",
      `--secure-port=${freePort()}`,
      `--service-account-private-key-file=${pki}/sa.key`,
      `--root-ca-file=${pki}/ca.crt`,
      "--profiling=false",
    ],
  });
  await group.start({
    name: "kube-scheduler",
    command: scheduler,
    args: [
      `--kubeconfig=${kubeconfig}`,
      "--leader-elect=false",
      "--bind-address=127.0.0.1",
      `--secure-port=${freePort()}`,
    ],
  });
  await group.start({
    name: "kwok",
    command: kwok,
    args: [
      `--kubeconfig=${kubeconfig}`,
      // The module's "fast" stages, which scripts/setup-k8s writes beside the binary: kwok has none built in.
      `--config=${kwokStages}`,
      "--manage-all-nodes=false",
      "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
      "--cidr=10.244.0.0/16",
      "--node-ip=127.0.0.1",
    ],
    env: { HOME: group.dir },
  });

  // Three fake nodes, large enough for every request of the default values.
  for (const n of [1, 2, 3]) {
    const name = `kwok-node-${n}`;
    const resources = { cpu: "32", memory: "128Gi", pods: "110" };
    await api.create("/api/v1/nodes", {
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name,
        annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
        labels: {
          "kubernetes.io/hostname": name,
          "kubernetes.io/os": "linux",
          "kubernetes.io/arch": "amd64",
        },
      },
      status: { allocatable: resources, capacity: resources },
    });
  }
  await eventually("KWOK reports its three nodes Ready", async () => {
    const nodes = items(await api.get("/api/v1/nodes"));
    return nodes.length === 3 && nodes.every((node) => conditionTrue(node, "Ready"));
  }, { timeoutMs: 120_000, intervalMs: 500 });
  return { api, kubeconfig };
}

function conditionTrue(object: Json, type: string): boolean {
  const conditions = field(object, "status", "conditions");
  return Array.isArray(conditions) && conditions.some((c: Json) => c.type === type && c.status === "True");
}

/** What the operator creates before installing (values.yaml names them): placeholders, KWOK runs nothing. */
async function prepareNamespace(api: Api): Promise<void> {
  await api.create("/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: namespace,
      // Every pod the chart makes must pass the "restricted" Pod Security Standard, or is refused.
      labels: {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
      },
    },
  });
  const secrets: Record<string, Record<string, string>> = {
    "shop-jwt-keys": { "current.pem": "placeholder" },
    "shop-stripe": { apiKey: "sk_test_placeholder", webhookSecret: "whsec_placeholder" },
    "shop-postgres-urls": Object.fromEntries(
      ["user", "order", "payment", "notification"].map((
        db,
      ) => [db, `postgres://${db}@db.example:5432/${db}`]),
    ),
    "shop-mongo-url": { url: "mongodb://product@mongo.example:27017/product" },
    "shop-redis-url": { url: "redis://redis.example:6379" },
  };
  for (const [name, stringData] of Object.entries(secrets)) {
    await api.create(`/api/v1/namespaces/${namespace}/secrets`, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name },
      stringData,
    });
  }
}

/** The objects of a YAML stream, read by kubernetes-validate's Python (no YAML parser in the workspace). */
async function parseYaml(python: string, text: string): Promise<Json[]> {
  const child = new Deno.Command(python, {
    args: [
      "-c",
      "import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(sys.stdin) if d]))",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  assert.ok(out.success, decoder.decode(out.stderr));
  return JSON.parse(decoder.decode(out.stdout));
}

/** Every Deployment and StatefulSet of the release has rolled out its current template: all replicas updated, Running and Ready. */
async function rolledOut(api: Api, logLevel: string): Promise<string[]> {
  const waiting: string[] = [];
  for (const kind of ["deployments", "statefulsets"]) {
    const workloads = items(
      await api.get(
        `/apis/apps/v1/namespaces/${namespace}/${kind}?labelSelector=app.kubernetes.io/instance=${release}`,
      ),
    );
    assert.ok(workloads.length > 0, `the release has no ${kind}`);
    for (const workload of workloads) {
      const name = `${kind}/${String(field(workload, "metadata", "name"))}`;
      const replicas = Number(field(workload, "spec", "replicas"));
      const status = (field(workload, "status") ?? {}) as Json;
      const current = field(workload, "metadata", "generation") === status.observedGeneration &&
        status.updatedReplicas === replicas && status.readyReplicas === replicas &&
        (status.replicas === replicas);
      // The HorizontalPodAutoscaler's minimum (2) when the chart leaves replicas to it.
      if (!current || replicas < 1 || (kind === "deployments" && replicas < 2)) {
        waiting.push(`${name}: ${JSON.stringify(status)}`);
        continue;
      }
      const selector = Object.entries((field(workload, "spec", "selector", "matchLabels") ?? {}) as Json)
        .map(([k, v]) => `${k}=${String(v)}`).join(",");
      const pods = items(
        await api.get(`/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(selector)}`),
      )
        .filter((pod) => field(pod, "metadata", "deletionTimestamp") === undefined);
      const running = pods.filter((pod) =>
        field(pod, "status", "phase") === "Running" && conditionTrue(pod, "Ready") &&
        typeof field(pod, "spec", "nodeName") === "string"
      );
      const levels = new Set(pods.flatMap((pod) => {
        const containers = field(pod, "spec", "containers");
        return (Array.isArray(containers) ? containers : []).flatMap((c: Json) =>
          (Array.isArray(c.env) ? c.env : []).filter((e: Json) => String(e.name).endsWith("_LOG_LEVEL")).map((
            e: Json,
          ) => e.value)
        );
      }));
      const levelsRight = kind === "statefulsets" || (levels.size === 1 && levels.has(logLevel));
      if (running.length !== replicas || pods.length !== replicas || !levelsRight) {
        waiting.push(
          `${name}: ${running.length} of ${pods.length} pods Running (want ${replicas}), log levels ${[
            ...levels,
          ]}`,
        );
      }
    }
  }
  return waiting;
}

async function waitForRollout(api: Api, logLevel: string, what: string): Promise<void> {
  let last: string[] = [];
  await eventually(what, async () => {
    last = await rolledOut(api, logLevel);
    return last.length === 0;
  }, { timeoutMs: 300_000, intervalMs: 1_000, lastSeen: async () => [...last, ...await warnings(api)] });
}

/** The namespace's warning events: a pod the admission refused (Pod Security, say) shows as FailedCreate. */
async function warnings(api: Api): Promise<string[]> {
  const events = items(await api.get(`/api/v1/namespaces/${namespace}/events?fieldSelector=type%3DWarning`));
  return events
    .filter((event) =>
      event.reason !== "FailedGetResourceMetric" && event.reason !== "FailedComputeMetricsReplicas"
    )
    .map((event) =>
      `${String(field(event, "involvedObject", "name"))} ${String(event.reason)}: ${String(event.message)}`
    );
}

Deno.test({
  name: "helm install, upgrade and rollback the chart on a real API server, with KWOK's nodes",
  ignore: Deno.env.get("SHOP_K8S") !== "1",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const versions = await readVersions(root);
    const helm = await tool("helm", versions.HELM_VERSION, "bin/helm", "deno task setup");
    const python = await tool(
      "kubernetes-validate",
      versions.KUBERNETES_VALIDATE_VERSION,
      "venv/bin/python3",
      "deno task setup",
    );
    const group = await ProcessGroup.create();
    let api: Api | undefined;
    try {
      const cluster = await startCluster(group);
      api = cluster.api;
      await prepareNamespace(api);
      // helm's own state (repositories, cache) stays in the group's directory.
      const env = {
        KUBECONFIG: cluster.kubeconfig,
        HELM_CACHE_HOME: `${group.dir}/helm/cache`,
        HELM_CONFIG_HOME: `${group.dir}/helm/config`,
        HELM_DATA_HOME: `${group.dir}/helm/data`,
      };
      const helmRun = (...args: string[]) => run(helm, [...args, "--namespace", namespace], { env });
      // Volumes for etcd's StatefulSet: no provisioner runs here, so the claims bind to these.
      for (const n of [0, 1, 2]) {
        await api.create("/api/v1/persistentvolumes", {
          apiVersion: "v1",
          kind: "PersistentVolume",
          metadata: { name: `kwok-volume-${n}` },
          spec: {
            capacity: { storage: "10Gi" },
            accessModes: ["ReadWriteOnce"],
            storageClassName: "",
            hostPath: { path: `${group.dir}/volumes/${n}` },
          },
        });
      }

      // The pre-install hooks (the certificates Job, the migrations) run first: helm waits for their Jobs,
      // whose pods KWOK reports Succeeded.
      await helmRun("install", release, chart, "--timeout", "10m");
      const manifest = await parseYaml(python, await helmRun("get", "manifest", release));
      assert.ok(manifest.length > 30, `the release has only ${manifest.length} objects`);
      const missing: string[] = [];
      for (const object of manifest) {
        const path = await objectPath(api, object);
        const { status } = await api.request("GET", path);
        if (status !== 200) missing.push(`${path}: ${status}`);
      }
      assert.deepEqual(missing, [], "objects of the release the API server does not have");
      await waitForRollout(
        api,
        "info",
        "every Deployment's and StatefulSet's pods are Running on KWOK's nodes",
      );

      await helmRun(
        "upgrade",
        release,
        chart,
        "--reuse-values",
        "--set",
        "serviceDefaults.logLevel=debug",
        "--timeout",
        "10m",
      );
      await waitForRollout(api, "debug", "the upgrade (log level debug) has rolled out to every Deployment");

      await helmRun("rollback", release, "1", "--timeout", "10m");
      await waitForRollout(
        api,
        "info",
        "the rollback (log level info again) has rolled out to every Deployment",
      );
      const history = JSON.parse(await helmRun("history", release, "--output", "json")) as Json[];
      assert.deepEqual(
        history.map((revision) => [revision.revision, revision.status, revision.description]),
        [
          [1, "superseded", "Install complete"],
          [2, "superseded", "Upgrade complete"],
          [3, "deployed", "Rollback to 1"],
        ],
      );
    } finally {
      api?.close();
      await group.stop();
    }
  },
});
