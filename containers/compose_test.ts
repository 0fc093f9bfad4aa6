/**
 * Checks `compose.yaml`, the `Dockerfile` and `.dockerignore` without a Docker engine (there is none on
 * the build machines). compose.yaml is loaded by `containers/compose_check` (compose-go, the library
 * `docker compose` loads files with: the current Compose schema, interpolation, merge keys, references),
 * built by `scripts/setup`; the checks below run on the model it resolves, as `docker compose config`
 * would print it with the demo's variables (`containers/dev.env`), and with an operator's secrets only
 * (production, the default). They check that every file named exists, every environment variable a shop
 * program gets is a valid configuration of it, compose refuses to start without real secrets and runs
 * production mode by default, every port is on loopback unless told otherwise, each container mounts
 * only its own key, start order follows health, each image holds every module its program loads, dev and
 * compose share one Envoy renderer, one set of migrations, rules and dashboards, and the images'
 * HEALTHCHECK and CMD work as written against a real service.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type ConfigOf, loadConfig, type Schema } from "@shop/platform/config";
import { ensureDevCertificates } from "@shop/platform/tls";
import { freePort, postgresForTests, toolsDir } from "@shop/platform/testing";
import { tracingEnv } from "@shop/platform/tracing";
import { TextLineStream } from "../services/platform/streams/text_line_stream.ts";
import { type DockerStage, parseDockerfile } from "./dockerfile.ts";
import { envNamesOf, readVersions, shopPrograms } from "./config_env.ts";
import { etcdAccessConfigSchema } from "./etcd/access.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const versions = await readVersions(root);

/** A service of the resolved model (the fields these checks read). */
interface ComposeService {
  image?: string;
  build?: { context: string; target?: string };
  command?: string[] | null;
  hostname?: string;
  environment?: Record<string, string | null>;
  ports?: Array<{ host_ip?: string; published?: string; target: number }>;
  volumes?: Array<
    { type: string; source: string; target: string; read_only?: boolean; volume?: { subpath?: string } }
  >;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: string[]; disable?: boolean };
  network_mode?: string;
}

/** The checker `scripts/setup` builds, keyed like its cache entry (compose-go version, hash of the source). */
async function composeCheckBinary(): Promise<string> {
  const src = `${root}/containers/compose_check`;
  const text =
    (await Promise.all(["go.mod", "go.sum", "main.go"].map((f) => Deno.readTextFile(`${src}/${f}`))))
      .join("");
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  const hash = [...digest].map((byte) => byte.toString(16).padStart(2, "0")).join("").slice(0, 12);
  return `${toolsDir()}/compose-check-${versions.COMPOSE_GO_VERSION}-${hash}/bin/compose_check`;
}

/** `containers/dev.env`, the demo's variables, as `NAME=VALUE` lines. */
const devEnv = (await Deno.readTextFile(`${root}/containers/dev.env`)).split("\n")
  .map((line) => line.trim())
  .filter((line) => line !== "" && !line.startsWith("#"));

/** What an operator sets for production: a value of their own for every secret, nothing else. */
const productionEnv = devEnv
  .filter((line) => !/^(SHOP_ENV|COMPOSE_PROFILES|SHOP_PAYMENT_STRIPE_BASE_URL|SHOP_TRACING_\w+)=/.test(line))
  .map((line) => line.replace(/=.*/, (value) => `=operator${value.slice(1).replace(/[^a-z]/gi, "")}`));

/**
 * compose.yaml as compose-go resolves it with only the variables `env` gives (`NAME=VALUE`; the demo's
 * unless set); throws with its error when the file is invalid or a required variable is missing.
 */
async function loadCompose(env: readonly string[] = devEnv): Promise<
  { services: Record<string, ComposeService>; volumes: Record<string, unknown> }
> {
  const binary = await composeCheckBinary();
  try {
    await Deno.stat(binary);
  } catch {
    throw new Error(`${binary} is missing: run \`deno task setup\` (it builds containers/compose_check)`);
  }
  const run = await new Deno.Command(binary, {
    args: [`${root}/compose.yaml`, ...env],
    cwd: root,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!run.success) throw new Error(new TextDecoder().decode(run.stderr).trim());
  return JSON.parse(new TextDecoder().decode(run.stdout));
}

const model = await loadCompose();
const services = model.services;
const stages = parseDockerfile(await Deno.readTextFile(`${root}/Dockerfile`));

/** The shop's programs, and compose's own one-shot that sets up etcd's users. */
const programs: Readonly<Record<string, { schema: Schema; prefix: string }>> = {
  ...shopPrograms,
  "etcd-access": { schema: etcdAccessConfigSchema, prefix: "SHOP_ETCD_ACCESS" },
};

/**
 * The Stripe simulator's keys, from services/payment/stripe_simulator/main.ts: its schema is declared
 * inside the program (importing it would start the server), so they are listed here.
 */
const simulatorEnv = [
  "SERVER_HOST",
  "SERVER_PORT",
  "UPSTREAM_URL",
  "WEBHOOK_URL",
  "WEBHOOK_SECRET",
  "WEBHOOK_CERTS_DIR",
  "WEBHOOK_IDENTITY",
].map((key) => `SHOP_STRIPE_SIMULATOR_${key}`);

function stage(name: string): DockerStage {
  const found = stages.find((candidate) => candidate.name === name);
  assert.ok(found, `the Dockerfile has no target ${name}`);
  return found;
}

function targetOf(service: ComposeService): string | undefined {
  return service.build?.target;
}

function environmentOf(service: ComposeService): Record<string, string> {
  return Object.fromEntries(
    Object.entries(service.environment ?? {}).map(([key, value]) => [key, value ?? ""]),
  );
}

Deno.test("compose.yaml loads with compose-go, the loader of docker compose", async () => {
  const text = await Deno.readTextFile(`${root}/containers/compose_check/go.mod`);
  assert.match(
    text,
    new RegExp(`compose-go/v2 v${versions.COMPOSE_GO_VERSION}\\n`),
    "go.mod and versions.env agree",
  );
  assert.ok(Object.keys(services).length >= 19, `services: ${Object.keys(services).join(", ")}`);
  // The checker refuses what docker compose refuses: an unknown key, a dependency on no service.
  const broken = await Deno.makeTempDir({ prefix: "shop-compose-" });
  try {
    for (
      const [file, error] of [
        ["services:\n  a:\n    image: x:1\n    bogus: 1\n", /bogus/],
        ["services:\n  a:\n    image: x:1\n    depends_on: [b]\n", /depends on undefined service|b/],
      ] as const
    ) {
      await Deno.writeTextFile(`${broken}/compose.yaml`, file);
      const run = await new Deno.Command(await composeCheckBinary(), {
        args: [`${broken}/compose.yaml`],
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.equal(run.success, false, file);
      assert.match(new TextDecoder().decode(run.stderr), error);
    }
  } finally {
    await Deno.remove(broken, { recursive: true });
  }
});

const composeCli = await findComposeCli();

Deno.test({
  name: `compose.yaml is accepted by the docker compose CLI${
    composeCli ? "" : " (no compose CLI here: skipped)"
  }`,
  ignore: composeCli === undefined,
  fn: async () => {
    assert.ok(composeCli);
    const run = await new Deno.Command(composeCli[0] ?? "", {
      args: [
        ...composeCli.slice(1),
        "--env-file",
        `${root}/containers/dev.env`,
        "-f",
        `${root}/compose.yaml`,
        "config",
        "--quiet",
      ],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
  },
});

/** `SHOP_COMPOSE_BIN`, a `docker compose` plugin that answers, or a `docker-compose` on PATH. */
async function findComposeCli(): Promise<string[] | undefined> {
  const candidates = [
    ...(Deno.env.get("SHOP_COMPOSE_BIN") ? [[Deno.env.get("SHOP_COMPOSE_BIN") ?? ""]] : []),
    ["docker", "compose"],
    ["docker-compose"],
  ];
  for (const candidate of candidates) {
    try {
      const out = await new Deno.Command(candidate[0] ?? "", {
        args: [...candidate.slice(1), "version"],
        stdout: "piped",
        stderr: "null",
      }).output();
      if (out.success && /compose/i.test(new TextDecoder().decode(out.stdout))) return candidate;
    } catch {
      // Not installed.
    }
  }
  return undefined;
}

Deno.test("every service is built from a Dockerfile target or a pinned official image", () => {
  for (const [name, service] of Object.entries(services)) {
    const target = targetOf(service);
    if (target !== undefined) {
      stage(target);
      continue;
    }
    const image = service.image;
    assert.equal(typeof image, "string", `${name} has neither a build target nor an image`);
    assert.match(String(image), /^[\w./-]+:[\w.-]+$/, `${name}: the image ${image} has no tag`);
    assert.doesNotMatch(String(image), /:latest$/, `${name}: ${image} is not pinned`);
  }
  const image = (name: string) => String(services[name]?.image);
  // The same versions as the servers the tests and `deno task dev` run (scripts/lib/versions.env).
  assert.equal(image("gateway"), `envoyproxy/envoy:v${versions.ENVOY_VERSION}`);
  assert.equal(image("stripe-mock"), `stripe/stripe-mock:v${versions.STRIPE_MOCK_VERSION}`);
  assert.equal(image("postgres"), `postgres:${versions.POSTGRES_VERSION}`);
  assert.match(image("etcd"), /^quay\.io\/coreos\/etcd:v3\.5\.\d+$/);
  assert.equal(image("mongo"), "mongo:7");
  for (
    const [variable, service, repository] of [
      ["PROMETHEUS_VERSION", "prometheus", "prom/prometheus"],
      ["ALERTMANAGER_VERSION", "alertmanager", "prom/alertmanager"],
      ["VICTORIA_LOGS_VERSION", "victorialogs", "victoriametrics/victoria-logs"],
    ] as const
  ) {
    if (versions[variable] !== undefined) {
      assert.equal(image(service), `${repository}:v${versions[variable]}`);
    }
  }
  // Two product instances of one image, each under its own host name (which its certificate must name).
  assert.equal(targetOf(services["product-1"] ?? {}), "product");
  assert.equal(targetOf(services["product-2"] ?? {}), "product");
  const extraDns = environmentOf(services.certs ?? {}).SHOP_CERTS_EXTRA_DNS ?? "";
  for (const [name, service] of Object.entries(services)) {
    const target = targetOf(service);
    if (target === undefined || !(target in programs) || service.hostname === undefined) continue;
    const hostname = String(service.hostname);
    assert.ok(
      hostname === target || extraDns.split(/\s+/).some((entry) =>
        entry === `${target}=${hostname}` ||
        (entry.startsWith(`${target}=`) && entry.slice(target.length + 1).split(",").includes(hostname))
      ),
      `${name} registers as ${hostname}, which the ${target} certificate does not name (SHOP_CERTS_EXTRA_DNS)`,
    );
  }
});

Deno.test("every file compose.yaml and the Dockerfile name exists in the repository", async () => {
  const missing: string[] = [];
  const exists = async (path: string) => {
    try {
      await Deno.stat(`${root}/${path}`);
    } catch {
      missing.push(path);
    }
  };
  for (const [name, service] of Object.entries(services)) {
    for (const volume of service.volumes ?? []) {
      if (volume.type === "bind") {
        assert.ok(
          volume.source.startsWith(`${root}/`),
          `${name}: ${volume.source} is outside the repository`,
        );
        assert.ok(volume.read_only, `${name}: ${volume.source} is mounted writable`);
        await exists(volume.source.slice(root.length + 1));
      } else {
        assert.equal(volume.type, "volume", `${name}: ${volume.source}`);
        assert.ok(volume.source in model.volumes, `${name}: volume ${volume.source} is not declared`);
      }
    }
  }
  for (const { name, copies } of stages) {
    for (const { sources } of copies) {
      for (const source of sources) {
        if (source.includes("*")) {
          const dir = source.slice(0, source.lastIndexOf("/"));
          const suffix = source.slice(source.lastIndexOf("*") + 1);
          let found = false;
          for await (const entry of Deno.readDir(`${root}/${dir}`)) found ||= entry.name.endsWith(suffix);
          assert.ok(found, `${name}: COPY ${source} matches nothing`);
        } else {
          await exists(source);
        }
      }
    }
  }
  assert.deepEqual(missing, []);
});

/** The ports of a model published beyond 127.0.0.1, as `service address:published:target`. */
function beyondLoopback(of: Record<string, ComposeService>): string[] {
  const published: string[] = [];
  for (const [name, service] of Object.entries(of)) {
    for (const port of service.ports ?? []) {
      if (port.host_ip !== "127.0.0.1") {
        published.push(`${name} ${port.host_ip ?? "*"}:${port.published}:${port.target}`);
      }
    }
    assert.notEqual(service.network_mode, "host", `${name} uses the host's network`);
  }
  return published;
}

Deno.test("every port is published on 127.0.0.1; the gateway beyond it only when SHOP_PUBLISH_ADDRESS says so", async () => {
  assert.deepEqual(beyondLoopback(services), [], "the demo");
  assert.deepEqual(beyondLoopback((await loadCompose(productionEnv)).services), [], "production");
  const opened = await loadCompose([...productionEnv, "SHOP_PUBLISH_ADDRESS=0.0.0.0"]);
  assert.deepEqual(beyondLoopback(opened.services), ["gateway 0.0.0.0:8443:8443"]);
});

Deno.test("compose refuses to start without real secrets; it runs in production mode unless the demo's env file is given", async () => {
  await assert.rejects(loadCompose([]), /required variable SHOP_[A-Z_]+ is missing a value/);
  for (const line of productionEnv) {
    const name = line.slice(0, line.indexOf("="));
    await assert.rejects(
      loadCompose(productionEnv.filter((other) => other !== line)),
      new RegExp(`required variable ${name} is missing a value`),
      `without ${name}`,
    );
  }
  const production = (await loadCompose(productionEnv)).services;
  const modes = Object.entries(production)
    .filter(([, service]) => environmentOf(service).SHOP_ENV !== undefined)
    .map(([name, service]) => `${name}=${environmentOf(service).SHOP_ENV}`);
  assert.deepEqual(modes.sort(), [
    "cart=production",
    "notification=production",
    "order=production",
    "payment=production",
    "product-1=production",
    "product-2=production",
    "user=production",
  ]);
  assert.ok(!("stripe-simulator" in production) && !("stripe-mock" in production), "no Stripe simulator");
  assert.ok(!("mailpit" in production), "no Mailpit");
  // Tracing is off unless the operator names a collector; the same two variables reach every service
  // and the gateway's renderer.
  assert.ok(!("jaeger" in production), "no Jaeger");
  const traced = Object.entries(production).filter(([, service]) =>
    environmentOf(service).SHOP_TRACING_ENDPOINT !== undefined
  );
  assert.deepEqual(traced.map(([name]) => name).sort(), [
    "cart",
    "gateway-config",
    "notification",
    "order",
    "payment",
    "product-1",
    "product-2",
    "user",
  ]);
  for (const [name, service] of traced) {
    assert.equal(environmentOf(service).SHOP_TRACING_ENDPOINT, "", `${name} traces nothing in production`);
  }
  assert.equal(
    environmentOf(production.payment ?? {}).SHOP_PAYMENT_STRIPE_BASE_URL,
    "https://api.stripe.com",
  );
  const everything = JSON.stringify(production);
  assert.ok(!everything.includes("dev-only"), "no dev-only value is left in the production model");
  assert.ok(!everything.includes("_dev_only"), "nor the dev webhook secret");

  // The demo: dev mode, the simulator in front of stripe-mock, on 127.0.0.1 like everything else.
  assert.equal(environmentOf(services.user ?? {}).SHOP_ENV, "dev");
  assert.equal(
    environmentOf(services.payment ?? {}).SHOP_PAYMENT_STRIPE_BASE_URL,
    "http://stripe-simulator:12112",
  );
  assert.ok("stripe-simulator" in services && "stripe-mock" in services);
  // Every span to the demo's Jaeger (the release of the Go module scripts/setup builds), its UI on 127.0.0.1.
  assert.equal(
    versions.JAEGER_VERSION,
    "1.76.0",
    "jaegertracing/jaeger:2.13.0 is the release of Jaeger 1.76.0",
  );
  assert.equal(services.jaeger?.image, "jaegertracing/jaeger:2.13.0");
  for (const name of ["order", "payment", "product-1", "gateway-config"]) {
    assert.equal(environmentOf(services[name] ?? {}).SHOP_TRACING_ENDPOINT, "http://jaeger:4318", name);
    assert.equal(environmentOf(services[name] ?? {}).SHOP_TRACING_SAMPLE_RATIO, "1", name);
  }
});

/** The identity whose key each container reads (its certificate's name). */
const identityOf: Record<string, string> = {
  user: "user",
  cart: "cart",
  notification: "notification",
  edge: "edge",
  etcd: "etcd",
  "etcd-access": "etcd-root",
  "product-1": "product",
  "product-2": "product",
  order: "order",
  payment: "payment",
  gateway: "gateway",
  prometheus: "prometheus",
  "stripe-simulator": "client",
};

Deno.test("each container mounts only its own key, which the certs one-shot puts in a directory of its own", async () => {
  const mounted: Record<string, string> = {};
  for (const [name, service] of Object.entries(services)) {
    for (const volume of service.volumes ?? []) {
      if (volume.source !== "certs" || name === "certs") continue;
      assert.equal(volume.read_only, true, `${name} mounts its key read-only`);
      assert.ok(volume.volume?.subpath, `${name} mounts the whole certs volume, every key in it`);
      mounted[name] = volume.volume.subpath;
    }
  }
  assert.deepEqual(mounted, identityOf);

  // containers/certs/run.sh, as the one-shot runs it (without the owners: this is not root).
  const dir = await Deno.makeTempDir({ prefix: "shop-certs-" });
  try {
    const run = await new Deno.Command("bash", {
      args: [`${root}/containers/certs/run.sh`],
      env: { SHOP_CERTS_DIR: dir, SHOP_CERTS_CHOWN: "false" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(run.success, new TextDecoder().decode(run.stderr));
    const listing = async (path: string) => {
      const files: string[] = [];
      for await (const entry of Deno.readDir(path)) files.push(entry.name);
      return files.sort();
    };
    const identities = [...new Set(Object.values(identityOf))];
    for (const identity of identities.filter((name) => name !== "etcd-root")) {
      assert.deepEqual(
        await listing(`${dir}/${identity}`),
        [
          "ca.crt",
          `${identity}.crt`,
          `${identity}.key`,
          ...(identity === "user" ? ["jwt"] : []),
          // Every identity but the etcd server has an etcd password, its own only.
          ...(identity === "etcd" ? [] : ["etcd"]),
        ].sort(),
        `${identity}/ holds its own key and no other`,
      );
      if (identity !== "etcd") {
        assert.deepEqual(await listing(`${dir}/${identity}/etcd`), [`${identity}.password`]);
      }
      const mode = (await Deno.stat(`${dir}/${identity}/${identity}.key`)).mode ?? 0;
      assert.equal(mode & 0o077, 0, `${identity}.key is its owner's only`);
    }
    // The etcd-access one-shot creates the users: it holds every etcd password, and no service's key.
    assert.deepEqual(await listing(`${dir}/etcd-root`), ["ca.crt", "client.crt", "client.key", "etcd"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the environment of every shop program is a complete, valid configuration of it", () => {
  let checked = 0;
  for (const [name, service] of Object.entries(services)) {
    const target = targetOf(service);
    if (target === undefined || target === "certs") continue;
    // The image's ENV first, compose's on top, as Docker applies them.
    const env = { ...stage(target).env, ...environmentOf(service) };
    const shopNames = Object.keys(env).filter((key) => key.startsWith("SHOP_"));
    if (target === "stripe-simulator") {
      assert.deepEqual(
        shopNames.filter((key) => !simulatorEnv.includes(key)),
        [],
        `${name}: unknown variables`,
      );
      continue;
    }
    const program = programs[target];
    assert.ok(program, `${name}: target ${target} has no config schema listed in this test`);
    // Every service runs on the kit's runService, which reads the tracing variables (tracingEnv).
    const kitNames = ["SHOP_EDGE", "SHOP_GATEWAY"].includes(program.prefix)
      ? []
      : ["SHOP_TRACING_ENDPOINT", "SHOP_TRACING_SAMPLE_RATIO"];
    if (kitNames.length > 0) {
      try {
        tracingEnv(env);
      } catch (error) {
        assert.fail(`${name}: ${(error as Error).message}`);
      }
    }
    const known = new Set([...envNamesOf(program.schema, program.prefix), ...kitNames]);
    assert.deepEqual(
      shopNames.filter((key) => !known.has(key)),
      [],
      `${name}: variables its config does not read`,
    );
    let config: ConfigOf<Schema>;
    try {
      config = loadConfig(program.schema, { envPrefix: program.prefix, env });
    } catch (error) {
      assert.fail(`${name}: ${(error as Error).message}`);
    }
    // Containers are reached by other containers: every server listens on all interfaces.
    const server = (config as { server?: { host?: string; port?: number } }).server;
    if (server !== undefined) {
      assert.equal(server.host, "0.0.0.0", `${name} listens only on its own loopback`);
      // The image's health check asks the port the program listens on, and compose publishes that one.
      const probed = stage(target).healthcheck?.at(-1);
      if (stage(target).healthcheck?.includes("grpc")) {
        assert.equal(Number(probed), server.port, `${name}: the health check asks another port`);
      }
      for (const port of service.ports ?? []) {
        assert.equal(port.target, server.port, `${name}: publishes a port nothing listens on`);
      }
    }
    checked++;
  }
  assert.equal(
    checked,
    10,
    "user, product-1, product-2, order, payment, cart, notification, edge, etcd-access and gateway-config were checked",
  );
});

Deno.test("programs start after what they need is healthy, or finished for one-shots", () => {
  const oneShots = new Set(["certs", "gateway-config", "etcd-access"]);
  for (const [name, service] of Object.entries(services)) {
    const dependsOn = service.depends_on ?? {};
    for (const [dependency, value] of Object.entries(dependsOn)) {
      const other = services[dependency];
      assert.ok(other, `${name} depends on ${dependency}, which does not exist`);
      const target = targetOf(other);
      const hasHealthcheck = (other.healthcheck !== undefined && other.healthcheck.disable !== true) ||
        (target !== undefined && stage(target).healthcheck !== undefined);
      const expected = oneShots.has(dependency)
        ? "service_completed_successfully"
        : hasHealthcheck
        ? "service_healthy"
        : "service_started";
      assert.equal(value.condition, expected, `${name} -> ${dependency}`);
    }
    const target = targetOf(service);
    if (target !== undefined && target in programs && target !== "edge" && !oneShots.has(target)) {
      assert.ok(stage(target).healthcheck, `${target} has a HEALTHCHECK`);
      assert.ok("certs" in dependsOn, `${name} waits for the certificates`);
    }
  }
});

Deno.test("Deno images run as the non-root user and copy every workspace manifest", async () => {
  for (const [name, service] of Object.entries(services)) {
    const target = targetOf(service);
    if (target === undefined || target === "certs") continue;
    assert.equal(stage(target).user, "deno", `${name} runs as root`);
  }
  const workspace =
    (JSON.parse(await Deno.readTextFile(`${root}/deno.json`)) as { workspace: string[] }).workspace;
  const manifests = stage("deps").copies.flatMap(({ sources, destination }) =>
    sources.filter((source) => source.endsWith("deno.json")).map((source) =>
      source === "deno.json" ? source : `${destination.replace(/\/$/, "")}/deno.json`
    )
  );
  for (const member of workspace) {
    const manifest = `${member.replace(/^\.\//, "")}/deno.json`;
    assert.ok(
      manifests.includes(manifest),
      `the deps stage does not copy ${manifest} (deno install --frozen needs it)`,
    );
  }
});

/** `.dockerignore` patterns as regular expressions over repository-relative paths. */
async function ignored(): Promise<RegExp[]> {
  const lines = (await Deno.readTextFile(`${root}/.dockerignore`)).split("\n").map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  return lines.map((line) => {
    const body = line.replace(/\/$/, "").split("/").map((part) =>
      part === "**" ? "\u0000" : part.replace(/[.+^${}()|[\]\\]/g, "\\$&").replaceAll("*", "[^/]*")
    ).join("/").replaceAll("\u0000/", "(?:.*/)?");
    return new RegExp(`^${body}(?:/.*)?$`);
  });
}

Deno.test("each Deno image holds every module its programs load, and nothing of the tests", async () => {
  const patterns = await ignored();
  const entries: Array<[string, string]> = [];
  for (const { name, cmd, healthcheck } of stages) {
    for (const command of [cmd, healthcheck]) {
      for (const word of command ?? []) if (word.endsWith(".ts")) entries.push([name, word]);
    }
  }
  entries.push(["gateway-config", "envoy/render_config.ts"]); // run by containers/gateway/render.sh
  const render = await Deno.readTextFile(`${root}/containers/gateway/render.sh`);
  assert.match(
    render,
    /deno run [^\n]*\\\n[^\n]*envoy\/render_config\.ts/,
    "render.sh runs envoy/render_config.ts",
  );
  assert.ok(entries.length >= 13, `entry points found: ${entries.map(([s, e]) => `${s}:${e}`).join(", ")}`);
  for (const [target, entry] of entries) {
    // Every COPY here keeps the repository's layout (`COPY dir dir`, `COPY a/x.ts a/`), so a source
    // path is also where the file lands in /app.
    const copied = stage(target).copies.flatMap(({ sources }) => sources.map((source) => ({ source })));
    const info = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(info.success, new TextDecoder().decode(info.stderr));
    const graph = JSON.parse(new TextDecoder().decode(info.stdout)) as {
      modules: Array<{ specifier: string }>;
    };
    const files = graph.modules.map((module) => module.specifier)
      .filter((specifier) => specifier.startsWith(`file://${root}/`))
      .map((specifier) => decodeURIComponent(specifier.slice(`file://${root}/`.length)));
    assert.ok(files.length > 0, `${target}: deno info found no module of ${entry}`);
    for (const file of files) {
      const inImage = copied.some(({ source }) => {
        if (source.includes("*")) {
          const dir = source.slice(0, source.lastIndexOf("/") + 1);
          return file.startsWith(dir) && !file.slice(dir.length).includes("/") &&
            file.endsWith(source.slice(source.lastIndexOf("*") + 1));
        }
        return file === source || file.startsWith(`${source.replace(/\/$/, "")}/`);
      });
      assert.ok(inImage, `${target}: ${entry} loads ${file}, which the target does not COPY`);
      assert.ok(
        !patterns.some((pattern) => pattern.test(file)),
        `${target}: ${file} is excluded by .dockerignore`,
      );
    }
  }
});

Deno.test("dev and compose share one Envoy renderer and one copy of migrations, rules and dashboards", async () => {
  // The gateway's configuration is rendered by envoy/render_config.ts in the gateway-config one-shot;
  // Envoy runs that output, and nothing under containers/ is an Envoy config, SQL or a rule file.
  const gateway = services.gateway ?? {};
  assert.deepEqual(gateway.command, ["envoy", "-c", "/gateway/envoy.json", "--log-level", "info"]);
  assert.deepEqual(stage("gateway-config").cmd, ["sh", "containers/gateway/render.sh"]);
  assert.equal(
    environmentOf(services["gateway-config"] ?? {}).SHOP_GATEWAY_OUT,
    "/gateway/envoy.json",
    "Envoy reads what the renderer writes",
  );
  for await (const file of walk(`${root}/containers`)) {
    if (file.endsWith(".ts")) continue; // this test and its helpers
    const text = await Deno.readTextFile(file);
    const name = file.slice(root.length + 1);
    assert.ok(!file.endsWith(".sql"), `${name}: migrations live in services/<svc>/store/migrations only`);
    assert.doesNotMatch(
      text,
      /static_resources|"@type": "type\.googleapis\.com\/envoy/,
      `${name} is an Envoy config`,
    );
    assert.doesNotMatch(text, /^groups:/m, `${name} holds alerting rules: they belong in observability/`);
    assert.doesNotMatch(text, /"panels"\s*:/, `${name} is a dashboard: dashboards belong in observability/`);
  }
  // Each service applies its own migrations at start (as in dev and the tests): no SQL is mounted.
  for (const [name, service] of Object.entries(services)) {
    for (const volume of service.volumes ?? []) {
      assert.doesNotMatch(`${volume.source}:${volume.target}`, /migrations|\.sql/, `${name} mounts SQL`);
      // Configuration shared with dev comes from its one place in the repo, by path.
      if (/rules|dashboards|alertmanager\.yml/.test(volume.source)) {
        assert.ok(volume.source.startsWith(`${root}/observability/`), `${name}: ${volume.source}`);
      }
    }
  }
});

Deno.test("Prometheus, Alertmanager and Grafana in compose use the dev stack's rules and dashboards", async () => {
  const mounts = (name: string) =>
    Object.fromEntries((services[name]?.volumes ?? []).map((volume) => [volume.target, volume.source]));
  const prometheus = mounts("prometheus");
  assert.equal(prometheus["/etc/prometheus/rules"], `${root}/observability/rules`);
  const config = await Deno.readTextFile(`${root}/containers/prometheus/prometheus.yml`);
  const rules = [...config.matchAll(/^\s+- \/etc\/prometheus\/rules\/(\S+)$/gm)].map((match) => match[1]);
  // What observability/servers.ts loads in dev (`ruleFiles`); the promtool test file is not a rule file.
  assert.deepEqual(rules, ["recording.yml", "alerts.yml"]);
  for (const rule of rules) await Deno.stat(`${root}/observability/rules/${rule}`);
  assert.match(config, /job_name: shop\n\s+honor_labels: true/, "the job and labels the rules select on");
  assert.equal(
    mounts("alertmanager")["/etc/alertmanager/alertmanager.yml"],
    `${root}/observability/alertmanager.yml`,
  );
  const grafana = mounts("grafana");
  assert.equal(grafana["/var/lib/grafana/dashboards/shop"], `${root}/observability/grafana/dashboards`);
  const provider = await Deno.readTextFile(`${root}/observability/grafana/provisioning/dashboards/shop.yaml`);
  assert.match(
    provider,
    /path: \/var\/lib\/grafana\/dashboards\/shop\n/,
    "the provider reads where compose mounts",
  );
});

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isDirectory) yield* walk(`${dir}/${entry.name}`);
    else if (entry.isFile) yield `${dir}/${entry.name}`;
  }
}

/** The words of a Dockerfile exec form with container paths replaced by this machine's. */
function onThisMachine(words: readonly string[], paths: Record<string, string>): string[] {
  return words.map((word) => {
    for (const [from, to] of Object.entries(paths)) {
      if (word === from || word.startsWith(`${from}/`)) return to + word.slice(from.length);
      if (word.startsWith("--allow-") && word.includes(`=${from}`)) return word.replace(`=${from}`, `=${to}`);
    }
    return word;
  });
}

Deno.test("the user image's CMD and HEALTHCHECK work as written: SERVING while it runs, failing after", async () => {
  const user = stage("user");
  assert.ok(user.cmd && user.healthcheck);
  const certsDir = await ensureDevCertificates();
  await using db = await (await postgresForTests()).createDatabase({ label: "containers_user" });
  const port = String(await freePort());
  const env = {
    ...user.env,
    ...environmentOf(services.user ?? {}),
    // This machine's servers instead of the containers'; loopback instead of every interface.
    SHOP_USER_SERVER_HOST: "127.0.0.1",
    SHOP_USER_SERVER_PORT: port,
    SHOP_USER_TLS_CERTS_DIR: certsDir,
    SHOP_USER_JWT_KEYS_DIR: `${certsDir}/jwt`,
    SHOP_USER_DATABASE_URL: db.url,
    SHOP_USER_DISCOVERY_ENABLED: "false",
    SHOP_USER_PASSWORD_SCRYPT_LOG_N: "12",
  };
  const [deno, ...args] = onThisMachine(user.cmd, { "/certs": certsDir });
  assert.equal(deno, "deno");
  // `--cached-only` is for the image, where `deno cache` ran at build time; here the graph may be new.
  const child = new Deno.Command(Deno.execPath(), {
    args: args.filter((arg) => arg !== "--cached-only"),
    cwd: root,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  try {
    const seen: string[] = [];
    const serving = await new Promise<boolean>((resolve) => {
      // A bound, not a timed assertion: a service that never says it serves fails here instead of hanging.
      const timer = setTimeout(() => resolve(false), 60_000);
      (async () => {
        const lines = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(new TextLineStream());
        for await (const line of lines) {
          seen.push(line);
          if (/"message":"Serving user on /.test(line)) return resolve(true);
        }
        resolve(false);
      })().catch(() => resolve(false)).finally(() => clearTimeout(timer));
    });
    if (!serving) {
      child.kill("SIGKILL");
      assert.fail(
        `the user service did not start with the image's flags:\n${
          seen.slice(-10).join("\n")
        }\n${await stderr}`,
      );
    }
    const probe = async () => {
      const [, ...probeArgs] = onThisMachine(user.healthcheck ?? [], { "/certs": certsDir });
      const run = await new Deno.Command(Deno.execPath(), {
        args: probeArgs.filter((arg) => arg !== "--cached-only"),
        cwd: root,
        env,
        stdout: "piped",
        stderr: "piped",
      }).output();
      return {
        code: run.code,
        out: new TextDecoder().decode(run.stdout).trim() + new TextDecoder().decode(run.stderr),
      };
    };
    const healthy = await probe();
    assert.deepEqual(healthy, { code: 0, out: "user: SERVING" });
    child.kill("SIGTERM");
    await child.status;
    const down = await probe();
    assert.equal(down.code, 1, down.out);
    assert.match(down.out, /^user: /);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await child.status;
    await stderr.catch(() => "");
  }
});

Deno.test("the probe's http and eds modes tell ready from not ready", async () => {
  const { probe } = await import("./healthcheck.ts");
  const dir = await Deno.makeTempDir({ prefix: "shop-healthcheck-" });
  try {
    const env = { SHOP_EDGE_ENDPOINTS_DIR: dir };
    assert.equal((await probe(["eds", "user"], env)).ok, false);
    await Deno.writeTextFile(`${dir}/user.json`, JSON.stringify({ version_info: "0", resources: [] }));
    assert.deepEqual(await probe(["eds", "user"], env), {
      ok: false,
      message: "user.json has not been written by the bridge yet",
    });
    await Deno.writeTextFile(`${dir}/user.json`, JSON.stringify({ version_info: "17-1", resources: [] }));
    assert.equal((await probe(["eds", "user"], env)).ok, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => new Response("", { status: new URL(request.url).pathname === "/ok" ? 200 : 503 }),
  );
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    assert.equal((await probe(["http", `${base}/ok`], {})).ok, true);
    assert.deepEqual(await probe(["http", `${base}/down`], {}), {
      ok: false,
      message: `${base}/down: HTTP 503`,
    });
  } finally {
    await server.shutdown();
  }
  assert.equal((await probe(["nonsense"], {})).ok, false);
});
